// Picking the next token from one row of logits, in the order Hugging Face's generate applies its
// processors: repetition penalty, then temperature, top-k, top-p, then a draw (or argmax).
import type { SamplingOptions } from './types.ts';

/** Chooses a token from `logits` (one row, length V); `context` is the row's prompt and output so far. */
export type Sampler = (logits: Float32Array, context: readonly number[]) => number;

function checkOptions(o: SamplingOptions): void {
  const t = o.temperature ?? 0,
    k = o.topK ?? 0,
    p = o.topP ?? 1,
    r = o.repetitionPenalty ?? 1;
  if (!(t >= 0) || !Number.isFinite(t))
    throw new RangeError(`temperature must be a finite number >= 0 (0 is greedy), got ${o.temperature}`);
  if (!Number.isInteger(k) || k < 0)
    throw new RangeError(`topK must be a non-negative integer (0 disables it), got ${o.topK}`);
  if (!(p > 0 && p <= 1)) throw new RangeError(`topP must be in (0, 1] (1 disables it), got ${o.topP}`);
  if (!(r > 0) || !Number.isFinite(r))
    throw new RangeError(`repetitionPenalty must be a finite number > 0 (1 disables it), got ${o.repetitionPenalty}`);
}

/**
 * CTRL's repetition penalty, as Hugging Face applies it: each distinct token already seen has its
 * logit divided by `penalty` when positive and multiplied by it when negative. Works in place.
 */
export function applyRepetitionPenalty(logits: Float32Array, context: readonly number[], penalty: number): void {
  if (penalty === 1) return;
  for (const id of new Set(context)) {
    if (id < 0 || id >= logits.length) continue;
    const v = logits[id]!;
    logits[id] = v > 0 ? v / penalty : v * penalty;
  }
}

export function argmax(x: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < x.length; i++) if (x[i]! > x[best]!) best = i;
  return best;
}

/**
 * The candidate tokens after top-k and top-p, most likely first, with their unnormalized
 * probabilities exp((logit - max) / temperature).
 */
export function candidates(
  logits: Float32Array,
  temperature: number,
  topK: number,
  topP: number,
): { ids: number[]; weights: number[] } {
  let ids =
    topK > 0 && topK < logits.length
      ? topWithTies(logits, topK)
      : Array.from(logits.keys()).sort((a, b) => logits[b]! - logits[a]! || a - b);
  if (topK > 0 && topK < ids.length) {
    // Ties with the k-th logit stay in, as torch.topk's threshold comparison keeps them.
    const kth = logits[ids[topK - 1]!]!;
    let end = topK;
    while (end < ids.length && logits[ids[end]!] === kth) end++;
    ids = ids.slice(0, end);
  }
  const max = logits[ids[0]!]!;
  let weights = ids.map((i) => Math.exp((logits[i]! - max) / temperature));
  if (topP < 1) {
    const total = weights.reduce((s, w) => s + w, 0);
    let acc = 0,
      keep = 0;
    while (keep < ids.length && acc < topP * total) acc += weights[keep++]!;
    ids = ids.slice(0, Math.max(keep, 1));
    weights = weights.slice(0, ids.length);
  }
  return { ids, weights };
}

/** A sampler for one row; `rng` gives uniform [0, 1) draws (mulberry32 for reproducible runs). */
/**
 * The ids of the k largest logits plus any tied with the k-th, most likely first (ties: lower id
 * first), as a full sort would order them: O(V·k) instead of sorting all V.
 */
function topWithTies(logits: Float32Array, k: number): number[] {
  const best: number[] = [];
  for (let i = 0; i < logits.length; i++) {
    const v = logits[i]!;
    if (best.length === k && v <= logits[best[k - 1]!]!) continue;
    let j = best.length < k ? best.length : k - 1;
    best[j] = i;
    while (j > 0 && logits[best[j - 1]!]! < v) {
      best[j] = best[j - 1]!;
      best[j - 1] = i;
      j--;
    }
  }
  const kth = logits[best[k - 1]!]!;
  for (let i = 0; i < logits.length; i++) if (logits[i] === kth && !best.includes(i)) best.push(i);
  return best.sort((a, b) => logits[b]! - logits[a]! || a - b);
}

/**
 * A draw from softmax(logits / temperature) over the whole vocabulary: one pass for the maximum,
 * one for the total, one to the draw. Without top-k or top-p the order tokens are walked in does
 * not change the distribution, so nothing is sorted.
 */
function drawAll(logits: Float32Array, temperature: number, rng: () => number): number {
  const n = logits.length;
  let max = -Infinity;
  for (let i = 0; i < n; i++) if (logits[i]! > max) max = logits[i]!;
  if (scratch.length < n) scratch = new Float64Array(n);
  const w = scratch,
    inv = 1 / temperature;
  let total = 0;
  for (let i = 0; i < n; i++) total += w[i] = Math.exp((logits[i]! - max) * inv);
  let u = rng() * total;
  for (let i = 0; i < n; i++) {
    u -= w[i]!;
    if (u < 0) return i;
  }
  return argmax(logits); // rounding left u a hair above zero
}

/** drawAll's weights, reused: a server draws thousands of tokens a second, each over the whole vocabulary. */
let scratch = new Float64Array(0);

export function makeSampler(o: SamplingOptions, rng: () => number): Sampler {
  checkOptions(o);
  const temperature = o.temperature ?? 0,
    topK = o.topK ?? 0,
    topP = o.topP ?? 1,
    penalty = o.repetitionPenalty ?? 1;
  return (row, context) => {
    const logits = penalty === 1 ? row : Float32Array.from(row);
    applyRepetitionPenalty(logits, context, penalty);
    if (temperature === 0) return argmax(logits);
    if (topK === 0 && topP === 1) return drawAll(logits, temperature, rng);
    const { ids, weights } = candidates(logits, temperature, topK, topP);
    const total = weights.reduce((s, w) => s + w, 0);
    let u = rng() * total;
    for (let i = 0; i < ids.length; i++) {
      u -= weights[i]!;
      if (u < 0) return ids[i]!;
    }
    return ids[ids.length - 1]!; // rounding left u a hair above zero
  };
}
