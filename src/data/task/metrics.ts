// Task metrics (in the data layer so distillation's answer filters and evaluation share them): a model's generated answers scored against reference answers (g2p pronunciations,
// short QA answers), and against the teacher's answers. Pure functions over strings.
//
// Normalization (exact match and token F1 only), in this order:
//   1. Unicode NFKC (compatibility forms folded: full-width letters, ligatures, no-break spaces);
//   2. lowercase (String.prototype.toLowerCase, locale-independent);
//   3. every punctuation character (Unicode general category P: . , ; : ! ? ' " ( ) [ ] { } - _ / @ # % & * ¿ « » 。 …)
//      replaced by a space; symbols (category S: $ + < = > ^ ` | ~) and digits are kept;
//   4. runs of whitespace collapsed to one space, and the ends trimmed.
// English articles are not removed (SQuAD's script does; tasks here are not all English).
// Whitespace is what Python's str.split() splits on (the set SQuAD's script and sacrebleu use):
// \t \n \v \f \r, U+001C–U+001F, space, U+0085, U+00A0, U+1680, U+2000–U+200A, U+2028, U+2029,
// U+202F, U+205F, U+3000. Tokens are the pieces between whitespace.
//
// chrF and the token error rate read the strings as given: chrF is case- and punctuation-sensitive as
// sacrebleu's default is, and the token error rate counts every symbol (a phoneme set may use
// punctuation); pass normalizeAnswer(s) to either for a normalized figure.
//
//   exactMatch      1 if normalize(pred) = normalize(ref), else 0
//   tokenF1         SQuAD's bag-of-tokens F1 (Rajpurkar et al. 2016) over normalized tokens
//   chrF            Popović 2015 chrF as sacrebleu 2.x computes it by default (chrF2, sentence or corpus)
//   tokenErrorRate  Levenshtein distance over tokens / reference tokens (WER; PER for g2p)

/** Python's str.isspace() set, which str.split() splits on (see the header). */
const SPACE = '\\t-\\r\\x1c-\\x20\\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000';
const SPACE_RUN = new RegExp(`[${SPACE}]+`, 'gu');
const PUNCT = /\p{P}/gu;

/** The normalization of exact match and token F1 (see the header): NFKC, lowercase, punctuation → space, whitespace collapsed. */
export function normalizeAnswer(s: string): string {
  return s.normalize('NFKC').toLowerCase().replace(PUNCT, ' ').replace(SPACE_RUN, ' ').trim();
}

/** Whitespace tokens, as Python's str.split() gives them ('' → []). */
export function whitespaceTokens(s: string): string[] {
  return s.split(SPACE_RUN).filter((t) => t.length > 0);
}

/** 1 when the normalized strings are equal, else 0. */
export function exactMatch(pred: string, ref: string): number {
  return normalizeAnswer(pred) === normalizeAnswer(ref) ? 1 : 0;
}

/**
 * SQuAD v2's f1 (compute_f1 in its evaluation script): tokens in common counted as a multiset,
 * P = common / |pred|, R = common / |ref|, F1 = 2PR / (P + R); both empty → 1, one empty → 0.
 */
export function tokenF1(pred: string, ref: string): number {
  const p = whitespaceTokens(normalizeAnswer(pred));
  const r = whitespaceTokens(normalizeAnswer(ref));
  if (p.length === 0 || r.length === 0) return p.length === r.length ? 1 : 0;
  const counts = new Map<string, number>();
  for (const t of r) counts.set(t, (counts.get(t) ?? 0) + 1);
  let common = 0;
  for (const t of p) {
    const c = counts.get(t) ?? 0;
    if (c > 0) {
      common++;
      counts.set(t, c - 1);
    }
  }
  if (common === 0) return 0;
  const precision = common / p.length;
  const recall = common / r.length;
  return (2 * precision * recall) / (precision + recall);
}

// ---- chrF -------------------------------------------------------------------------------------

/** sacrebleu's defaults: character n-grams 1..6, β = 2, no word n-grams, whitespace removed, case kept. */
export const CHRF_ORDER = 6;
export const CHRF_BETA = 2;

/** Counts of each character n-gram, n = 1..order, over code points (as Python slices a str). */
function charNgrams(s: string, order: number): Map<string, number>[] {
  const chars = Array.from(s.replace(SPACE_RUN, ''));
  const out: Map<string, number>[] = [];
  for (let n = 1; n <= order; n++) {
    const m = new Map<string, number>();
    for (let i = 0; i + n <= chars.length; i++) {
      const g = chars.slice(i, i + n).join('');
      m.set(g, (m.get(g) ?? 0) + 1);
    }
    out.push(m);
  }
  return out;
}

/**
 * One sentence's chrF statistics, [hyp, ref, match] per order (3·order numbers), as sacrebleu's
 * CHRF._get_match_statistics: the hypothesis count of an order is 0 when the reference has no
 * n-gram of that order, so such an order drops out of the average (sentence and corpus alike).
 */
export function chrFStatistics(pred: string, ref: string, order = CHRF_ORDER): number[] {
  const h = charNgrams(pred, order);
  const r = charNgrams(ref, order);
  const stats: number[] = [];
  for (let n = 0; n < order; n++) {
    const hn = h[n]!,
      rn = r[n]!;
    let hyp = 0,
      refCount = 0,
      match = 0;
    for (const [g, c] of hn) {
      hyp += c;
      match += Math.min(c, rn.get(g) ?? 0);
    }
    for (const c of rn.values()) refCount += c;
    stats.push(rn.size > 0 ? hyp : 0, refCount, match);
  }
  return stats;
}

/**
 * chrF on the 0–100 scale from summed statistics, as sacrebleu's CHRF._compute_f_score without eps
 * smoothing (its default): precision and recall are averaged over the "effective" orders, those
 * with both hypothesis and reference n-grams, then F_β = (1 + β²)·P·R / (β²·P + R). No effective
 * order, or P + R = 0, gives 0 (so two empty strings score 0, as in sacrebleu).
 */
export function chrFFromStatistics(stats: readonly number[], beta = CHRF_BETA): number {
  if (stats.length % 3 !== 0)
    throw new Error(
      `chrFFromStatistics: stats has ${stats.length} numbers; expected [hyp, ref, match] per order (a multiple of 3)`,
    );
  let precision = 0,
    recall = 0,
    effective = 0;
  for (let i = 0; i < stats.length; i += 3) {
    const hyp = stats[i]!,
      ref = stats[i + 1]!,
      match = stats[i + 2]!;
    if (hyp > 0 && ref > 0) {
      precision += match / hyp;
      recall += match / ref;
      effective++;
    }
  }
  if (effective === 0) return 0;
  precision /= effective;
  recall /= effective;
  if (precision + recall === 0) return 0;
  const b2 = beta * beta;
  return (100 * (1 + b2) * precision * recall) / (b2 * precision + recall);
}

/** Sentence-level chrF (sacrebleu's CHRF().sentence_score(pred, [ref]).score), 0–100. */
export function chrF(pred: string, ref: string): number {
  return chrFFromStatistics(chrFStatistics(pred, ref));
}

/**
 * Corpus-level chrF (sacrebleu's CHRF().corpus_score(preds, [refs]).score), 0–100: the statistics of
 * every pair are summed before the one F-score, so it is not the mean of sentence scores. An empty
 * corpus gives NaN (sacrebleu refuses one).
 */
export function corpusChrF(preds: readonly string[], refs: readonly string[]): number {
  sameLength('corpusChrF', preds, refs, 'refs');
  if (preds.length === 0) return NaN;
  const sum = new Array<number>(3 * CHRF_ORDER).fill(0);
  for (let i = 0; i < preds.length; i++) chrFStatistics(preds[i]!, refs[i]!).forEach((x, j) => (sum[j]! += x));
  return chrFFromStatistics(sum);
}

// ---- token error rate -------------------------------------------------------------------------

/** Levenshtein distance between token sequences: fewest substitutions, insertions and deletions, each costing 1. */
export function levenshtein(a: readonly string[], b: readonly string[]): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row.push(Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1)));
    }
    prev = row;
  }
  return prev[b.length]!;
}

/** Errors over reference tokens; 0/0 is 0 (nothing to say, nothing said), n/0 is Infinity. */
const rate = (errors: number, refTokens: number) =>
  refTokens === 0 ? (errors === 0 ? 0 : Infinity) : errors / refTokens;

/**
 * Token error rate: Levenshtein distance over whitespace tokens of the strings as given, divided by the
 * reference's token count. Over phonemes it is the phoneme error rate, over words the word error rate.
 * It can exceed 1 (insertions). An empty reference gives 0 for an empty prediction, else Infinity.
 */
export function tokenErrorRate(pred: string, ref: string): number {
  const r = whitespaceTokens(ref);
  return rate(levenshtein(whitespaceTokens(pred), r), r.length);
}

/** Corpus token error rate: the sum of distances over the sum of reference token counts (not a mean of rates). Empty corpus: NaN. */
export function corpusTokenErrorRate(preds: readonly string[], refs: readonly string[]): number {
  sameLength('corpusTokenErrorRate', preds, refs, 'refs');
  if (preds.length === 0) return NaN;
  let errors = 0,
    tokens = 0;
  for (let i = 0; i < preds.length; i++) {
    const r = whitespaceTokens(refs[i]!);
    errors += levenshtein(whitespaceTokens(preds[i]!), r);
    tokens += r.length;
  }
  return rate(errors, tokens);
}

// ---- over a set of answers --------------------------------------------------------------------

export interface TaskScores {
  /** Answers scored. */
  items: number;
  /** Mean exact match, 0..1. */
  exactMatch: number;
  /** Mean token F1, 0..1. */
  tokenF1: number;
  /** Corpus chrF, 0..100. */
  chrF: number;
  /** Corpus token error rate (phoneme error rate for g2p). */
  tokenErrorRate: number;
}

export interface AgreementScores {
  /** Mean exact match with the teacher's answers, 0..1. */
  teacherExact: number;
  /** Corpus chrF with the teacher's answers as references, 0..100. */
  teacherChrF: number;
}

function sameLength(fn: string, preds: readonly string[], other: readonly string[], otherName: string): void {
  if (preds.length !== other.length) {
    throw new Error(
      `${fn}: preds has ${preds.length} answers but ${otherName} has ${other.length}; pass one entry of ${otherName} per prediction, in the same order`,
    );
  }
}

const mean = (xs: readonly number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : NaN);

/** Every task figure of one model's answers against the references (empty lists: items 0, figures NaN). */
export function taskScores(preds: readonly string[], refs: readonly string[]): TaskScores {
  sameLength('taskScores', preds, refs, 'refs');
  return {
    items: preds.length,
    exactMatch: mean(preds.map((p, i) => exactMatch(p, refs[i]!))),
    tokenF1: mean(preds.map((p, i) => tokenF1(p, refs[i]!))),
    chrF: corpusChrF(preds, refs),
    tokenErrorRate: corpusTokenErrorRate(preds, refs),
  };
}

/** The same measures against the teacher's answers to the same prompts instead of the references. */
export function agreementScores(preds: readonly string[], teacherAnswers: readonly string[]): AgreementScores {
  sameLength('agreementScores', preds, teacherAnswers, 'teacherAnswers');
  return {
    teacherExact: mean(preds.map((p, i) => exactMatch(p, teacherAnswers[i]!))),
    teacherChrF: corpusChrF(preds, teacherAnswers),
  };
}
