// Continuous batching: every active row of every request decodes its next token in one model run.
// A request's rows join at the next step (rows that arrive together are prefilled in one run, their
// keys and values copied into free rows of the shared cache) and leave at the step they finish,
// stop, or their client goes away; the last row then moves into the freed one, so active rows stay
// a prefix of the cache and a step runs at the smallest batch bucket that holds them (1, 2, 4, ...
// up to maxRows).
//
// Cache rows are independent: row r's prompt sits in slots [start, fill) and each step writes its
// new key and value at slot fill. Slots are not positions (a row's position is fill − start), and
// the keep-mask shows each row only its own filled slots, so rows of different lengths and ages
// share one (B, H, cap, hs) cache per layer. Greedy output does not depend on what else is in the
// batch (src/serve/batcher.test.ts checks it token for token).
import { decodeGraph, prefillGraph } from '../generate/graphs.ts';
import type { KvShape, ModelRunner } from '../generate/index.ts';
import type { Tokenizer } from '../models/tokenizers/tokenizer.ts';
import { hostTensor, type HostTensor } from '../runtime/index.ts';
import { AbortedError, RowDecoder, type DecodeEvent, type DecodeOptions } from './decode.ts';

export interface BatcherOptions {
  /** Rows decoded together at most (requests × n); more wait for a free row. */
  maxRows: number;
  /** Cache slots per row: a request's prompt + max tokens − 1 must fit (at most the model's positions − 1). */
  capacity: number;
  padId: number;
  vocabSize: number;
  tokenizer?: Tokenizer;
}

/** Prompt widths are rounded up to a multiple of this (left padding), so few prefill programs compile. */
export const PREFILL_QUANTUM = 16;

interface Channel {
  events: DecodeEvent[];
  wake?: () => void;
  error?: Error;
  /** Rows of the request still decoding. */
  open: number;
}

interface Seq {
  /** The row's index in its request (events name it), and its row in the cache while active. */
  index: number;
  row: number;
  decoder: RowDecoder;
  channel: Channel;
  signal?: AbortSignal;
  /** The row's first cache slot holding a real token, and the next free one. */
  start: number;
  fill: number;
  /** Next-token logits (V), from the prefill or the last step. */
  logits?: Float32Array;
  prompt: readonly number[];
  maxTokens: number;
}

const floats = (t: HostTensor): Float32Array => t.data as Float32Array;
const bucketOf = (n: number, max: number): number => Math.min(max, 2 ** Math.ceil(Math.log2(Math.max(1, n))));

export class Batcher {
  private readonly kv: KvShape;
  /** Per layer, keys then values, each (maxRows, H, cap, hs). */
  private readonly cache: Float32Array[];
  private readonly rowSize: number;
  private active: Seq[] = [];
  private waiting: Seq[] = [];
  private running?: Promise<void>;
  /** Model runs so far and the rows they decoded (for stats and tests). */
  readonly stats = { steps: 0, rows: 0, prefills: 0 };

  constructor(
    private readonly runner: ModelRunner,
    readonly o: BatcherOptions,
  ) {
    this.kv = runner.kvShape();
    this.rowSize = this.kv.heads * o.capacity * this.kv.headDim;
    this.cache = Array.from({ length: 2 * this.kv.layers }, () => new Float32Array(o.maxRows * this.rowSize));
  }

  /** Whether a prompt of this length with this many new tokens fits a cache row (every new token but the last is cached). */
  fits(promptLength: number, maxTokens: number): boolean {
    return promptLength + maxTokens - 1 <= this.o.capacity;
  }

  /** Prefill width: the prompt rounded up to the quantum where the row has room for it, else exact. */
  private widthFor(promptLength: number, maxTokens: number): number {
    const rounded = Math.ceil(promptLength / PREFILL_QUANTUM) * PREFILL_QUANTUM;
    return rounded + maxTokens - 1 <= this.o.capacity ? rounded : promptLength;
  }

  /** Streams tokens for `prompts` (one row each), decoded alongside every other request's rows. */
  async *decode(
    prompts: readonly (readonly number[])[],
    seeds: readonly number[],
    o: DecodeOptions,
  ): AsyncGenerator<DecodeEvent> {
    if (o.maxTokens < 1 || prompts.length === 0) return;
    for (const p of prompts) {
      if (!this.fits(p.length, o.maxTokens))
        throw new RangeError(
          `batcher: a ${p.length}-token prompt with ${o.maxTokens} new tokens does not fit a cache row of ${this.o.capacity} slots`,
        );
    }
    const channel: Channel = { events: [], open: prompts.length };
    const rowOptions = { ...o, tokenizer: o.tokenizer ?? this.o.tokenizer };
    prompts.forEach((p, r) =>
      this.waiting.push({
        index: r,
        row: -1,
        decoder: new RowDecoder(p, seeds[r]!, rowOptions),
        channel,
        signal: o.signal,
        start: 0,
        fill: 0,
        prompt: p,
        maxTokens: o.maxTokens,
      }),
    );
    this.kick();
    try {
      for (;;) {
        while (channel.events.length > 0) yield channel.events.shift()!;
        if (channel.error) throw channel.error;
        if (channel.open === 0) return;
        await new Promise<void>((ok) => (channel.wake = ok));
        channel.wake = undefined;
      }
    } finally {
      // A consumer that stops reading (its handler failed) frees its rows at the next step.
      if (channel.open > 0) channel.error ??= new AbortedError('the request stopped reading');
    }
  }

  /** Rows decoding now and rows waiting for a free one. */
  get load(): { active: number; waiting: number } {
    return { active: this.active.length, waiting: this.waiting.length };
  }

  private kick(): void {
    this.running ??= this.loop().finally(() => {
      this.running = undefined;
      if (this.active.length > 0 || this.waiting.length > 0) this.kick();
    });
  }

  private async loop(): Promise<void> {
    try {
      while (this.active.length > 0 || this.waiting.length > 0) {
        await this.admit();
        this.sampleAll();
        if (this.active.length > 0) await this.step();
      }
    } catch (err) {
      // A failed model run ends every request in flight with the error, not a hung stream.
      for (const s of [...this.active, ...this.waiting]) this.fail(s.channel, err as Error);
      this.active = [];
      this.waiting = [];
    }
  }

  /** Moves waiting rows into free cache rows; those that arrived together are prefilled in one run. */
  private async admit(): Promise<void> {
    const joining: Seq[] = [];
    while (this.waiting.length > 0 && this.active.length + joining.length < this.o.maxRows) {
      const seq = this.waiting.shift()!;
      if (seq.signal?.aborted) this.fail(seq.channel, new AbortedError('the client went away'));
      if (seq.channel.error) continue;
      seq.row = this.active.length + joining.length;
      joining.push(seq);
    }
    // One run per group of rows that fit a common width: the longest rounded prompt of the group.
    while (joining.length > 0) {
      const group: Seq[] = [];
      let width = 0;
      for (const seq of [...joining]) {
        const w = Math.max(width, this.widthFor(seq.prompt.length, seq.maxTokens));
        if (group.every((g) => w + g.maxTokens - 1 <= this.o.capacity) && w + seq.maxTokens - 1 <= this.o.capacity) {
          group.push(seq);
          width = w;
          joining.splice(joining.indexOf(seq), 1);
        }
      }
      await this.prefill(group, width);
      this.active.push(...group);
    }
  }

  /** Prefills `rows` together, each left-padded to `width`, and copies their keys and values into their cache rows. */
  private async prefill(rows: readonly Seq[], width: number): Promise<void> {
    const B = bucketOf(rows.length, this.o.maxRows);
    const ids = new Array<number>(B * width).fill(this.o.padId);
    const pos = new Array<number>(B * width).fill(0);
    const keep = new Uint8Array(B * width);
    for (let b = 0; b < B; b++) keep[b * width + width - 1] = 1; // filler rows see one slot, so their softmax is defined
    rows.forEach((seq, b) => {
      const p = seq.prompt;
      const pad = width - p.length;
      p.forEach((id, k) => {
        ids[b * width + pad + k] = id;
        pos[b * width + pad + k] = k;
      });
      keep.fill(1, b * width + pad, (b + 1) * width);
      seq.start = pad;
      seq.fill = width;
    });
    const program = await this.runner.program(`prefill_${B}x${width}`, () => prefillGraph(this.runner.model, B, width));
    const out = await this.runner.run(program, {
      input_ids: hostTensor('int64', [B, width], ids),
      position_ids: hostTensor('int64', [B, width], pos),
      keep: hostTensor('bool', [B, 1, 1, width], keep),
    });
    this.stats.prefills++;
    const V = this.o.vocabSize;
    const logits = floats(out.logits!);
    rows.forEach((seq, b) => {
      for (let i = 0; i < this.kv.layers; i++) {
        this.write(2 * i, seq.row, floats(out[`present.${i}.key`]!), b, width);
        this.write(2 * i + 1, seq.row, floats(out[`present.${i}.value`]!), b, width);
      }
      seq.logits = logits.slice(b * V, (b + 1) * V);
    });
  }

  /** Each active row takes its next token; finished and abandoned rows leave. */
  private sampleAll(): void {
    const leaving = new Set<Seq>();
    for (const seq of this.active) {
      if (seq.signal?.aborted) {
        this.fail(seq.channel, new AbortedError('the client went away'));
      }
      if (seq.channel.error) {
        leaving.add(seq);
        continue;
      }
      const e = seq.decoder.take(seq.logits!);
      seq.channel.events.push({ row: seq.index, ...e });
      if (seq.decoder.done) {
        seq.channel.open--;
        leaving.add(seq);
      }
      seq.channel.wake?.();
    }
    if (leaving.size > 0) this.compact(leaving);
  }

  /** Removes rows, moving the last active rows into the holes so active rows stay a prefix of the cache. */
  private compact(leaving: Set<Seq>): void {
    const kept = this.active.filter((s) => !leaving.has(s));
    kept.forEach((s, i) => {
      if (s.row !== i) {
        for (const c of this.cache) c.copyWithin(i * this.rowSize, s.row * this.rowSize, (s.row + 1) * this.rowSize);
        s.row = i;
      }
    });
    this.active = kept;
  }

  /** One decode run over every active row: feeds each row's newest token, writes its key/value, keeps its logits. */
  private async step(): Promise<void> {
    const n = this.active.length;
    const B = bucketOf(n, this.o.maxRows);
    const cap = this.o.capacity;
    const { layers, heads, headDim } = this.kv;
    const program = await this.runner.program(
      `decode_${B}x${cap}`,
      () => decodeGraph(this.runner.model, B, cap, this.kv),
      true,
    );
    const ids = new Array<number>(B).fill(this.o.padId);
    const pos = new Array<number>(B).fill(0);
    const keep = new Uint8Array(B * (cap + 1));
    for (let b = 0; b < B; b++) keep[b * (cap + 1) + cap] = 1; // the new token itself (the only one for idle rows)
    for (const s of this.active) {
      ids[s.row] = s.decoder.context.at(-1)!;
      pos[s.row] = s.fill - s.start;
      keep.fill(1, s.row * (cap + 1) + s.start, s.row * (cap + 1) + s.fill);
    }
    const feeds: Record<string, HostTensor> = {
      input_ids: hostTensor('int64', [B, 1], ids),
      position_ids: hostTensor('int64', [B, 1], pos),
      keep: hostTensor('bool', [B, 1, 1, cap + 1], keep),
    };
    const shape = [B, heads, cap, headDim];
    for (let i = 0; i < layers; i++) {
      feeds[`past.${i}.key`] = hostTensor('float32', shape, this.cache[2 * i]!.subarray(0, B * this.rowSize));
      feeds[`past.${i}.value`] = hostTensor('float32', shape, this.cache[2 * i + 1]!.subarray(0, B * this.rowSize));
    }
    const out = await this.runner.run(program, feeds);
    this.stats.steps++;
    this.stats.rows += n;
    const logits = floats(out.logits!);
    const V = this.o.vocabSize;
    for (const s of this.active) {
      for (let i = 0; i < layers; i++) {
        this.writeRow(2 * i, s.row, floats(out[`new.${i}.key`]!), s.fill);
        this.writeRow(2 * i + 1, s.row, floats(out[`new.${i}.value`]!), s.fill);
      }
      s.fill++;
      s.logits = logits.slice(s.row * V, (s.row + 1) * V);
    }
  }

  /** Copies batch row `b` of a prefill's `src` (B, H, n, hs) into cache array `k`, row `row`, at slots [0, n). */
  private write(k: number, row: number, src: Float32Array, b: number, n: number): void {
    const { heads, headDim } = this.kv;
    const dst = this.cache[k]!;
    const run = n * headDim;
    for (let h = 0; h < heads; h++)
      dst.set(
        src.subarray((b * heads + h) * run, (b * heads + h + 1) * run),
        row * this.rowSize + h * this.o.capacity * headDim,
      );
  }

  /** Copies row `row` of a step's new keys or values (B, H, 1, hs) into its cache slot `at`. */
  private writeRow(k: number, row: number, src: Float32Array, at: number): void {
    const { heads, headDim } = this.kv;
    const dst = this.cache[k]!;
    for (let h = 0; h < heads; h++) {
      const from = (row * heads + h) * headDim;
      dst.set(src.subarray(from, from + headDim), row * this.rowSize + (h * this.o.capacity + at) * headDim);
    }
  }

  private fail(channel: Channel, err: Error): void {
    channel.error ??= err;
    channel.wake?.();
  }
}
