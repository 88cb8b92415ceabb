// The server's decode loop: one batch of rows (prompts × n) through a Stepper, each row sampled,
// stopped and streamed on its own, with the chosen token's log-prob and top alternatives when asked.
// src/generate's Generator does the same without log-probs; the server needs the raw logits of
// every step, so it drives the Stepper itself with the same sampler and stop-string tracker.
import { makeSampler, TextTracker, type SamplingOptions, type Stepper } from '../generate/index.ts';
import type { Tokenizer } from '../models/tokenizers/tokenizer.ts';
import { mulberry32 } from '../runtime/index.ts';
import { tokenLogprob, type TokenLogprob } from './logprobs.ts';

export interface DecodeOptions extends SamplingOptions {
  maxTokens: number;
  stop: readonly string[];
  eosIds: readonly number[];
  /** Alternatives per token for log-probs; undefined: no log-probs at all. */
  logprobs?: number;
  tokenizer?: Tokenizer;
  signal?: AbortSignal;
  /** The rows' first next-token logits when already known (from prompt scoring): no prefill run then. */
  firstLogits?: Float32Array;
}

export type FinishReason = 'stop' | 'length';

export interface DecodeEvent {
  row: number;
  token: number;
  /** New text safe to show (held back while it could still become a stop string). */
  text: string;
  logprob?: TokenLogprob;
  finishReason?: FinishReason;
}

export class AbortedError extends Error {
  override name = 'AbortedError';
}

/** What one row needs to sample, stop and report its tokens. */
export type RowOptions = Omit<DecodeOptions, 'signal' | 'firstLogits'>;

/**
 * One row's decoding: its sampler (own settings and seed), context, stop-string tracker and limits.
 * `take` samples the next token from the row's logits and says what to emit; the decode loop and
 * the continuous batcher share it, so a row decodes the same whichever runs it.
 */
export class RowDecoder {
  readonly context: number[];
  readonly out: number[] = [];
  done = false;
  private readonly sample: (logits: Float32Array, context: readonly number[]) => number;
  private readonly text: TextTracker;
  private readonly eos: Set<number>;

  constructor(
    prompt: readonly number[],
    seed: number,
    private readonly o: RowOptions,
  ) {
    this.context = [...prompt];
    this.sample = makeSampler(o, mulberry32(seed >>> 0));
    this.text = new TextTracker(o.stop);
    this.eos = new Set(o.eosIds);
  }

  /** Samples from `z` (this row's next-token logits), records the token, and marks the row done when it ends. */
  take(z: Float32Array): Omit<DecodeEvent, 'row'> {
    const o = this.o;
    const token = this.sample(z, this.context);
    const lp = o.logprobs === undefined ? undefined : tokenLogprob(z, token, o.logprobs);
    this.out.push(token);
    this.context.push(token);
    let text = '';
    let reason: FinishReason | undefined;
    let stopString = false;
    if (this.eos.has(token))
      reason = 'stop'; // the end token's own text is never shown
    else if (o.tokenizer) {
      const u = this.text.update(o.tokenizer.decode(this.out));
      text = u.delta;
      if (u.stopped) [reason, stopString] = ['stop', true];
    }
    if (!reason && this.out.length >= o.maxTokens) reason = 'length';
    if (reason) {
      this.done = true;
      if (!stopString) text += this.text.flush(); // text held back for a stop string that never came
    }
    return { token, text, ...(lp ? { logprob: lp } : {}), ...(reason ? { finishReason: reason } : {}) };
  }
}

/** Streams tokens for `prompts`; `stepper` is made lazily so that a first-logits shortcut with maxTokens 1 never builds one. */
export async function* decode(
  prompts: readonly (readonly number[])[],
  seeds: readonly number[],
  vocab: number,
  makeStepper: () => Stepper,
  o: DecodeOptions,
): AsyncGenerator<DecodeEvent> {
  if (o.maxTokens < 1) return;
  const rows = prompts.map((p, r) => new RowDecoder(p, seeds[r]!, o));
  let stepper: Stepper | undefined;
  let logits = o.firstLogits ?? (await (stepper = makeStepper()).start());
  for (;;) {
    if (o.signal?.aborted) throw new AbortedError('the client went away');
    const fed: number[] = [];
    for (const [r, row] of rows.entries()) {
      if (row.done) {
        fed.push(row.context.at(-1)!);
        continue;
      }
      const e = row.take(logits.subarray(r * vocab, (r + 1) * vocab));
      fed.push(e.token);
      yield { row: r, ...e };
    }
    if (rows.every((row) => row.done)) return;
    logits = await (stepper ??= await startedAfterShortcut(makeStepper)).next(fed);
  }
}

/**
 * With first logits given, the stepper has not seen the prompts: start it (prefill) and drop the
 * logits it returns, which equal the ones given.
 */
async function startedAfterShortcut(make: () => Stepper): Promise<Stepper> {
  const s = make();
  await s.start();
  return s;
}
