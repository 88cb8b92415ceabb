// A stepper runs the model for a batch and hands back next-token logits, one row per prompt.
// Both keep rows in "slots": prompts are left-padded to one length T so every row's newest token
// sits in the same slot; row b's padding is its first pads[b] slots, and slot j has position j − pads[b].
//
// Cache layout. The cache has a fixed capacity (B, H, cap, hs) per layer, sized once per call to
// T + maxNewTokens − 1 rounded up to CAPACITY_QUANTUM, so a whole generation compiles one decode
// program (and later calls of similar length reuse it). A step attends over all cap slots with a
// keep-mask over the filled ones. Measured on the benchmark model (4 layers, d 256, 2 threads):
// compiling a decode program takes 100-200 ms, while a step at cap 192 costs the same as at cap 64
// within noise (attention over 192 slots is ~10% of a step's multiply-adds; the weight matmuls are
// the rest). Bucketing the cache to powers of two would compile a program at every doubling, and
// one program per length would compile 128 of them, so a single fixed capacity wins.
// The cache lives on the host: a step returns only the new keys/values (B, H, 1, hs) and the host
// copies them into its arrays, which onnxruntime reads in place. Writing into the cache inside the
// graph (a Where against a one-hot slot mask) would return the whole cache every step, and
// onnxruntime-node copies outputs out: 16 MB costs ~25 ms as an output against ~2 ms as an input.
import { hostTensor, type HostTensor } from '../runtime/index.ts';
import { decodeGraph, prefillGraph, windowGraph } from './graphs.ts';
import type { KvShape, ModelRunner } from './runner.ts';

/** Cache capacity and window sizes are rounded up to a multiple of this, so programs are shared across calls. */
export const CAPACITY_QUANTUM = 64;

export interface Stepper {
  /** Runs the prompts; returns each row's next-token logits, (B, V) row-major. */
  start(): Promise<Float32Array>;
  /** Feeds one token per row (finished rows may feed anything); returns the next logits (B, V). */
  next(tokens: readonly number[]): Promise<Float32Array>;
}

export class SlotLayout {
  readonly batch: number;
  /** Slots the prompts take (the longest prompt). */
  readonly promptSlots: number;
  readonly pads: number[];

  constructor(
    readonly prompts: readonly (readonly number[])[],
    readonly padId: number,
  ) {
    this.batch = prompts.length;
    this.promptSlots = Math.max(...prompts.map((p) => p.length));
    this.pads = prompts.map((p) => this.promptSlots - p.length);
  }

  position(b: number, slot: number): number {
    return Math.max(0, slot - this.pads[b]!);
  }

  /** (B, T) left-padded prompt ids, their positions and a (B, 1, 1, width) keep-mask of real-token slots below `filled`. */
  promptFeeds(width: number, filled: number): Record<string, HostTensor> {
    const B = this.batch;
    const ids = new Array<number>(B * width).fill(this.padId);
    const pos = new Array<number>(B * width).fill(0);
    const keep = new Uint8Array(B * width);
    for (let b = 0; b < B; b++) {
      this.prompts[b]!.forEach((id, k) => (ids[b * width + this.pads[b]! + k] = id));
      for (let j = 0; j < width; j++) {
        pos[b * width + j] = this.position(b, j);
        keep[b * width + j] = j >= this.pads[b]! && j < filled ? 1 : 0;
      }
    }
    return {
      input_ids: hostTensor('int64', [B, width], ids),
      position_ids: hostTensor('int64', [B, width], pos),
      keep: hostTensor('bool', [B, 1, 1, width], keep),
    };
  }
}

/** Rounds `need` up to the quantum, never past `limit`. */
export function roundCapacity(need: number, limit = Infinity): number {
  return Math.min(Math.ceil(need / CAPACITY_QUANTUM) * CAPACITY_QUANTUM, Math.max(limit, need));
}

const floats = (t: HostTensor): Float32Array => t.data as Float32Array;

/** Prefill once, then one (B, 1) step per token against a fixed-capacity cache held on the host. */
export class CachedStepper implements Stepper {
  private slot = 0;
  private readonly kv: KvShape;
  /** Per layer, keys then values, each (B, H, cap, hs). */
  private readonly cache: Float32Array[];

  constructor(
    private readonly runner: ModelRunner,
    private readonly layout: SlotLayout,
    readonly capacity: number,
  ) {
    this.kv = runner.kvShape();
    const size = layout.batch * this.kv.heads * capacity * this.kv.headDim;
    this.cache = Array.from({ length: 2 * this.kv.layers }, () => new Float32Array(size));
  }

  async start(): Promise<Float32Array> {
    const { batch: B, promptSlots: T } = this.layout;
    const p = await this.runner.program(`prefill_${B}x${T}`, () => prefillGraph(this.runner.model, B, T));
    const out = await this.runner.run(p, this.layout.promptFeeds(T, T));
    for (let i = 0; i < this.kv.layers; i++) {
      this.write(2 * i, floats(out[`present.${i}.key`]!), 0, T);
      this.write(2 * i + 1, floats(out[`present.${i}.value`]!), 0, T);
    }
    this.slot = T;
    return floats(out.logits!);
  }

  async next(tokens: readonly number[]): Promise<Float32Array> {
    const { batch: B, pads } = this.layout;
    const { capacity: cap, slot: s, kv } = this;
    if (s >= cap)
      throw new Error(
        `generate: the KV cache holds ${cap} slots and all are filled; size it for prompt + maxNewTokens`,
      );
    const p = await this.runner.program(`decode_${B}x${cap}`, () => decodeGraph(this.runner.model, B, cap, kv), true);
    const keep = new Uint8Array(B * (cap + 1));
    for (let b = 0; b < B; b++) {
      keep.fill(1, b * (cap + 1) + pads[b]!, b * (cap + 1) + s);
      keep[b * (cap + 1) + cap] = 1; // the new token itself
    }
    const feeds: Record<string, HostTensor> = {
      input_ids: hostTensor('int64', [B, 1], tokens),
      position_ids: hostTensor(
        'int64',
        [B, 1],
        pads.map((_, b) => this.layout.position(b, s)),
      ),
      keep: hostTensor('bool', [B, 1, 1, cap + 1], keep),
    };
    const shape = [B, kv.heads, cap, kv.headDim];
    for (let i = 0; i < kv.layers; i++) {
      feeds[`past.${i}.key`] = hostTensor('float32', shape, this.cache[2 * i]!);
      feeds[`past.${i}.value`] = hostTensor('float32', shape, this.cache[2 * i + 1]!);
    }
    const out = await this.runner.run(p, feeds);
    for (let i = 0; i < kv.layers; i++) {
      this.write(2 * i, floats(out[`new.${i}.key`]!), s, 1);
      this.write(2 * i + 1, floats(out[`new.${i}.value`]!), s, 1);
    }
    this.slot++;
    return floats(out.logits!);
  }

  /** Copies `src` (B, H, n, hs) into cache array `k` at slots [at, at + n). */
  private write(k: number, src: Float32Array, at: number, n: number): void {
    const { heads, headDim } = this.kv;
    const dst = this.cache[k]!;
    const rows = this.layout.batch * heads,
      run = n * headDim;
    for (let r = 0; r < rows; r++) dst.set(src.subarray(r * run, (r + 1) * run), (r * this.capacity + at) * headDim);
  }
}

/** No cache: every step re-runs the whole window of `width` slots (the correctness reference). */
export class WindowStepper implements Stepper {
  private slot = 0;
  private feeds!: Record<string, HostTensor>;

  constructor(
    private readonly runner: ModelRunner,
    private readonly layout: SlotLayout,
    readonly width: number,
  ) {}

  async start(): Promise<Float32Array> {
    // Slots past the current one hold padding; causal attention keeps the picked slot from seeing them.
    this.feeds = this.layout.promptFeeds(this.width, this.width);
    this.slot = this.layout.promptSlots - 1;
    return this.runAt(this.slot);
  }

  async next(tokens: readonly number[]): Promise<Float32Array> {
    const s = ++this.slot;
    if (s >= this.width) throw new Error(`generate: the window holds ${this.width} slots and all are filled`);
    const ids = this.feeds.input_ids!.data as BigInt64Array;
    tokens.forEach((t, b) => (ids[b * this.width + s] = BigInt(t)));
    return this.runAt(s);
  }

  private async runAt(s: number): Promise<Float32Array> {
    const { batch: B } = this.layout,
      W = this.width;
    const p = await this.runner.program(`window_${B}x${W}`, () => windowGraph(this.runner.model, B, W));
    const pick = hostTensor(
      'int64',
      [B],
      Array.from({ length: B }, (_, b) => b * W + s),
    );
    return floats((await this.runner.run(p, { ...this.feeds, pick })).logits!);
  }
}
