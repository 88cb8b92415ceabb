// Top-k targets across tokenizers, by character spans. The teacher API scores a text in its own
// tokens and reports, for each of its token boundaries, the top-k next tokens as strings. The
// student tokenizes the same text its own way. A student position gets a target when the
// teacher has a boundary at the same character offset (both predict "what starts here"), and the
// teacher's candidate strings are mapped to student tokens with exactly that text. What this
// loses is listed in README.md beside this file.
import type { Tokenizer } from '../../models/tokenizers/tokenizer.ts';

/** The teacher's distribution over the token that starts at `offset` of the text. */
export interface TextPrediction {
  offset: number;
  /** Candidates most likely first: token text and log-prob (temperature 1). */
  top: { text: string; logprob: number }[];
}

export interface AlignedTargets {
  /** The text in the student's tokens. */
  studentIds: number[];
  /** (T, k) student ids of the teacher's candidates, most likely first; padded with unused ids. */
  ids: number[][];
  /** (T, k) their log-probs; padding has PAD_LOGPROB. */
  logprobs: number[][];
  /** (T) whether position t (predicting the token after student token t) has a target. */
  keep: boolean[];
  stats: AlignStats;
}

export interface AlignStats {
  /** Student positions, and those with a teacher boundary at the same offset. */
  positions: number;
  aligned: number;
  /** Teacher candidates looked at, and those that are one student token. */
  candidates: number;
  mapped: number;
  /** Probability mass of the mapped candidates over that of all candidates (aligned positions). */
  massKept: number;
}

/**
 * Log-prob of padding entries: exp() is exactly 0 in float32, so they add nothing to the teacher
 * side of a KL and no NaN (−∞ would give 0·∞).
 */
export const PAD_LOGPROB = -1e4;

/** Character offset of each token in decode(ids); single-token pieces where they match, prefix decoding where they do not (split characters). */
export function tokenOffsets(tok: Tokenizer, ids: readonly number[], text = tok.decode(ids)): number[] {
  const out: number[] = [];
  let at = 0;
  for (let j = 0; j < ids.length; j++) {
    out.push(at);
    const piece = tok.decode([ids[j]!]);
    if (piece.length > 0 && !piece.includes('\uFFFD') && text.startsWith(piece, at)) at += piece.length;
    else at = tok.decode(ids.slice(0, j + 1)).length;
  }
  return out;
}

const vocabIndex = new WeakMap<Tokenizer, Map<string, number>>();

/** Token text → id over the whole vocabulary (decode of the single id; the lowest id wins a tie). */
export function textToId(tok: Tokenizer): Map<string, number> {
  let m = vocabIndex.get(tok);
  if (!m) {
    m = new Map();
    for (let id = 0; id < tok.vocabSize; id++) {
      let s: string;
      try {
        s = tok.decode([id]);
      } catch {
        continue;
      }
      if (s && !s.includes('\uFFFD') && !m.has(s)) m.set(s, id);
    }
    vocabIndex.set(tok, m);
  }
  return m;
}

/** Fills a row to k entries with ids not already in it and PAD_LOGPROB. */
export function padRow(ids: number[], lps: number[], k: number): void {
  const used = new Set(ids);
  for (let id = 0; ids.length < k; id++) {
    if (used.has(id)) continue;
    ids.push(id);
    lps.push(PAD_LOGPROB);
  }
}

export function alignToStudent(
  student: Tokenizer,
  text: string,
  predictions: readonly TextPrediction[],
  k: number,
): AlignedTargets {
  const studentIds = student.encode(text);
  const decoded = student.decode(studentIds);
  if (decoded !== text)
    throw new Error(
      `alignToStudent: the student tokenizer does not round-trip this text (decode(encode(text)) differs), so character offsets cannot be matched; normalize the text first`,
    );
  const offs = tokenOffsets(student, studentIds, text);
  const byOffset = new Map(predictions.map((p) => [p.offset, p]));
  const index = textToId(student);
  const stats: AlignStats = { positions: studentIds.length, aligned: 0, candidates: 0, mapped: 0, massKept: 0 };
  let massAll = 0;
  const ids: number[][] = [],
    logprobs: number[][] = [],
    keep: boolean[] = [];
  for (let t = 0; t < studentIds.length; t++) {
    const next = t + 1 < studentIds.length ? offs[t + 1]! : text.length; // where the predicted token starts
    const p = byOffset.get(next);
    const rowIds: number[] = [],
      rowLps: number[] = [];
    if (p) {
      stats.aligned++;
      for (const c of p.top) {
        stats.candidates++;
        massAll += Math.exp(c.logprob);
        const id = index.get(c.text);
        if (id === undefined || rowIds.includes(id) || rowIds.length >= k) continue;
        stats.mapped++;
        stats.massKept += Math.exp(c.logprob);
        rowIds.push(id);
        rowLps.push(c.logprob);
      }
    }
    keep.push(rowIds.length > 0);
    padRow(rowIds, rowLps, k);
    ids.push(rowIds);
    logprobs.push(rowLps);
  }
  stats.massKept = massAll > 0 ? stats.massKept / massAll : 0;
  return { studentIds, ids, logprobs, keep, stats };
}
