// Log-probabilities as the API reports them: the chosen token's log-prob and the k most likely
// alternatives, from one row of raw logits (temperature 1, before any sampling processor, as vLLM
// reports them by default).

export interface TokenLogprob {
  id: number;
  logprob: number;
  /** 1 + how many tokens are likelier than this one (vLLM's rank). */
  rank: number;
  /** The k most likely tokens, most likely first. */
  top: { id: number; logprob: number }[];
}

/** log-sum-exp of a row. */
function lse(row: Float32Array): number {
  let max = -Infinity;
  for (let i = 0; i < row.length; i++) if (row[i]! > max) max = row[i]!;
  let s = 0;
  for (let i = 0; i < row.length; i++) s += Math.exp(row[i]! - max);
  return max + Math.log(s);
}

/** Indices of the k largest values, largest first (ties: lower id first); O(V·k). */
export function topIndices(row: Float32Array, k: number): number[] {
  const best: number[] = [];
  for (let i = 0; i < row.length; i++) {
    const v = row[i]!;
    if (best.length === k && v <= row[best[k - 1]!]!) continue;
    let j = best.length < k ? best.length : k - 1;
    best[j] = i;
    while (j > 0 && row[best[j - 1]!]! < v) {
      best[j] = best[j - 1]!;
      best[j - 1] = i;
      j--;
    }
  }
  return best;
}

/** The chosen token's log-prob and the top k of one row of logits. */
export function tokenLogprob(row: Float32Array, id: number, k: number): TokenLogprob {
  const z = lse(row);
  let above = 0;
  for (let i = 0; i < row.length; i++) if (row[i]! > row[id]!) above++;
  return {
    id,
    logprob: row[id]! - z,
    rank: above + 1,
    top: k > 0 ? topIndices(row, Math.min(k, row.length)).map((i) => ({ id: i, logprob: row[i]! - z })) : [],
  };
}

/**
 * Prompt scoring: for (T, V) logits over a prompt, entry j describes token j given the tokens before
 * it; entry 0 is null (nothing predicts the first token).
 */
export function promptLogprobs(
  logits: Float32Array,
  ids: readonly number[],
  vocab: number,
  k: number,
): (TokenLogprob | null)[] {
  return ids.map((id, j) => (j === 0 ? null : tokenLogprob(logits.subarray((j - 1) * vocab, j * vocab), id, k)));
}
