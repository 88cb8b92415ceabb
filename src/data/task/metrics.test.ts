import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  agreementScores,
  chrF,
  chrFFromStatistics,
  chrFStatistics,
  corpusChrF,
  corpusTokenErrorRate,
  exactMatch,
  levenshtein,
  normalizeAnswer,
  taskScores,
  tokenErrorRate,
  tokenF1,
  whitespaceTokens,
} from './metrics.ts';

const close = (actual: number, expected: number, what: string, tol = 1e-9) =>
  assert.ok(Math.abs(actual - expected) <= tol, `${what}: got ${actual}, expected ${expected}`);

test('normalizeAnswer: NFKC, lowercase, punctuation to spaces, whitespace collapsed and trimmed', () => {
  assert.equal(normalizeAnswer('  Hello,\u00a0World!! '), 'hello world');
  assert.equal(
    normalizeAnswer('ＡＢＣ　ｄｅｆ'),
    'abc def',
    'full-width letters and ideographic space fold under NFKC',
  );
  assert.equal(normalizeAnswer('«Bonjour», dit-il.'), 'bonjour dit il');
  assert.equal(normalizeAnswer('¿Qué tal?'), 'qué tal');
  assert.equal(normalizeAnswer("don't"), 'don t');
  assert.equal(normalizeAnswer('The Answer'), 'the answer', 'articles are kept');
  assert.equal(normalizeAnswer('$5 + 3 = 8'), '$5 + 3 = 8', 'symbols (category S) are kept');
  assert.equal(normalizeAnswer('a\x1cb\tc\n'), 'a b c', "Python's whitespace set (U+001C counts)");
  assert.equal(normalizeAnswer('…'), '', 'punctuation only leaves nothing');
  assert.equal(normalizeAnswer(''), '');
  assert.equal(normalizeAnswer('cafe\u0301'), 'café', 'NFKC composes');
});

test('whitespaceTokens splits as Python str.split() does', () => {
  assert.deepEqual(whitespaceTokens('  AE1 B\u3000AH0\n'), ['AE1', 'B', 'AH0']);
  assert.deepEqual(whitespaceTokens(''), []);
  assert.deepEqual(whitespaceTokens('a\ufeffb'), ['a\ufeffb'], 'U+FEFF is not whitespace to Python');
});

test('exactMatch compares normalized strings', () => {
  assert.equal(exactMatch('Paris.', 'paris'), 1);
  assert.equal(exactMatch('AE1 B AH0 K AH0 S', 'ae1  b ah0 k ah0 s'), 1);
  assert.equal(exactMatch('Ça va ?', 'ça va'), 1);
  assert.equal(exactMatch('Ⅻ', 'xii'), 1, 'Roman numeral XII folds under NFKC');
  assert.equal(exactMatch('the answer', 'answer'), 0, 'no article removal');
  assert.equal(exactMatch('AE1 B AH0 K AH1 S', 'AE1 B AH0 K AH0 S'), 0);
  assert.equal(exactMatch('', ''), 1);
  assert.equal(exactMatch('', 'x'), 0);
});

test('tokenF1: SQuAD bag-of-tokens F1', () => {
  // P = 2/3, R = 1 → F1 = 2·(2/3)·1 / (5/3) = 0.8, either way round.
  close(tokenF1('the cat sat', 'The cat'), 0.8, 'superset');
  close(tokenF1('The cat', 'the cat sat'), 0.8, 'subset (F1 is symmetric)');
  // Tokens count as a multiset: one 'a' in common; P = 1/3, R = 1 → 0.5.
  close(tokenF1('a a a', 'a'), 0.5, 'repeated tokens');
  // 'AH0' ×2, 'AE1', 'B', 'K', 'S' common = 5 of 6 each way → P = R = 5/6.
  close(tokenF1('AE1 B AH0 K AH1 S', 'AE1 B AH0 K AH0 S'), 5 / 6, 'one phoneme wrong');
  assert.equal(tokenF1('x y', 'z'), 0);
  assert.equal(tokenF1('', ''), 1, 'both empty');
  assert.equal(tokenF1('!!', '...'), 1, 'both empty after normalization');
  assert.equal(tokenF1('', 'a'), 0);
  assert.equal(tokenF1('a', ''), 0);
});

// Expected chrF values: sacrebleu 2.6.0, `CHRF().sentence_score(hyp, [ref]).score` and
// `CHRF().corpus_score(hyps, [refs]).score` (defaults: char order 6, word order 0, β 2, case kept,
// whitespace removed, no eps smoothing), printed with repr().
const sacrebleuSentences: [hyp: string, ref: string, score: number][] = [
  ['AE1 B AH0 K AH0 S', 'AE1 B AH0 K AH0 S', 100],
  ['AE1 B AH0 K AH1 S', 'AE1 B AH0 K AH0 S', 79.61519961519961],
  ['AE1 B AH0 K AH0 S', 'AE1 B AH0 K AH1 S', 79.61519961519961],
  ['The cat sat on the mat.', 'The cat is on the mat.', 67.17273492330233],
  ['The cat is on the mat.', 'The cat sat on the mat.', 64.58166836671698],
  ['ab', 'abc', 63.636363636363626],
  ['abc', 'ab', 87.49999999999999],
  ['abcdefgh', 'abc', 65.56603773584906],
  ['Paris', 'paris', 54.333333333333336],
  ['a b c', 'abc', 100],
  ['naïve café', 'naive cafe', 39.411375661375665],
  ['café', 'cafe\u0301', 37.73656898656898],
  ['\u{1F44D}\u{1F3FD} ok', '\u{1F44D} ok', 46.42857142857143],
  ['a\x1cb', 'ab', 100],
  ['a\ufeffb', 'ab', 45.45454545454545],
  ['', 'abc', 0],
  ['abc', '', 0],
  ['', '', 0],
  ['x', 'y', 0],
];

test('chrF matches sacrebleu sentence scores (phonemes, case, whitespace, combining marks, astral code points, empties)', () => {
  for (const [hyp, ref, score] of sacrebleuSentences)
    close(chrF(hyp, ref), score, `chrF(${JSON.stringify(hyp)}, ${JSON.stringify(ref)})`);
});

test('chrF by hand: orders the reference lacks drop out of the average; β = 2 weighs recall', () => {
  // 'ab' vs 'abc': order 1 P = 2/2, R = 2/3; order 2 P = 1/1, R = 1/2; orders 3..6 have no hypothesis
  // n-grams. Mean P = 1, R = 7/12; F2 = 5·1·(7/12) / (4·1 + 7/12) = 35/55.
  close(chrF('ab', 'abc'), (100 * 35) / 55, 'ab vs abc');
  // 'abc' vs 'ab': order 3 has a hypothesis n-gram but no reference one, so its hypothesis count is
  // 0 and it is not effective. Order 1 P = 2/3, R = 1; order 2 P = 1/2, R = 1 → P = 7/12, R = 1;
  // F2 = 5·(7/12) / (4·7/12 + 1) = 35/40.
  assert.deepEqual(chrFStatistics('abc', 'ab').slice(0, 9), [3, 2, 2, 2, 1, 1, 0, 0, 0]);
  close(chrF('abc', 'ab'), 87.5, 'abc vs ab');
  assert.ok(chrF('ab', 'abc') < chrF('abc', 'ab'), 'missing characters cost more than extra ones (recall weighs 4×)');
  assert.throws(() => chrFFromStatistics([1, 2]), /multiple of 3/);
});

test('corpusChrF sums statistics before the F-score: not the mean of sentence scores', () => {
  const hyps = ['AE1 B AH0 K AH1 S', 'ab', 'The cat sat on the mat.'];
  const refs = ['AE1 B AH0 K AH0 S', 'abcdefgh', 'The cat is on the mat.'];
  close(corpusChrF(hyps, refs), 62.0024847391801, 'corpus (sacrebleu corpus_score)');
  const meanOfSentences = hyps.reduce((s, h, i) => s + chrF(h, refs[i]!), 0) / hyps.length;
  close(meanOfSentences, 56.73072995255029, 'mean of sentence scores');
  // An empty hypothesis and a reference shorter than some orders, in one corpus.
  close(corpusChrF(['abc', '', 'xyz'], ['abc', 'q', 'xyzw']), 77.9601406799531, 'corpus with an empty answer');
  // The first pair's 4..6-grams have no reference n-grams, so they are not counted even though the
  // second pair gives those orders reference n-grams: summed [hyp, ref, match] are order 1 [9, 9, 6],
  // order 2 [7, 7, 4], order 3 [5, 5, 2], orders 4..6 [0, ref, 0] (not effective). P = R =
  // (2/3 + 4/7 + 2/5) / 3 = 172/315 → chrF 100·172/315 (sacrebleu: 54.6031746031746).
  close(
    corpusChrF(['abcdef', 'xyz'], ['abc', 'xyzuvw']),
    (100 * 172) / 315,
    'hypothesis n-grams of orders the reference lacks',
  );
  close(corpusChrF(['abcdef', 'xyz'], ['abc', 'xyzuvw']), 54.6031746031746, 'the same, sacrebleu');
  close(corpusChrF(['AE1 B'], ['AE1 B']), 100, 'one perfect pair');
  assert.ok(Number.isNaN(corpusChrF([], [])), 'an empty corpus has no score');
  assert.throws(
    () => corpusChrF(['a'], []),
    /corpusChrF: preds has 1 answers but refs has 0; pass one entry of refs per prediction/,
  );
});

test('levenshtein and tokenErrorRate: substitutions, insertions, deletions over whitespace tokens', () => {
  assert.equal(levenshtein(whitespaceTokens('k i t t e n'), whitespaceTokens('s i t t i n g')), 3);
  assert.equal(levenshtein([], ['a', 'b']), 2);
  assert.equal(levenshtein(['a', 'b'], []), 2);
  close(tokenErrorRate('AE1 B AH0 K AH1 S', 'AE1 B AH0 K AH0 S'), 1 / 6, 'one substituted phoneme of six');
  close(tokenErrorRate('a b c d', 'a b'), 1, 'two insertions over two reference tokens');
  close(tokenErrorRate('a', 'a b c d'), 3 / 4, 'three deletions over four');
  assert.notEqual(
    tokenErrorRate('a b c d', 'a b'),
    tokenErrorRate('a b', 'a b c d'),
    'divided by the reference: asymmetric',
  );
  close(tokenErrorRate('b a', 'a b'), 1, 'order matters: two substitutions');
  assert.equal(tokenErrorRate('Paris', 'paris'), 1, 'strings as given: case counts');
  assert.equal(tokenErrorRate('', ''), 0);
  assert.equal(tokenErrorRate('', 'a b'), 1);
  assert.equal(tokenErrorRate('a', ''), Infinity);
});

test('corpusTokenErrorRate is summed distances over summed reference tokens', () => {
  // 'a' vs 'b': 1 error over 1; 4 deletions over 8. Mean of rates 0.75; corpus 5/9.
  const preds = ['a', 'a b c d'];
  const refs = ['b', 'a b c d e f g h'];
  close(
    (tokenErrorRate(preds[0]!, refs[0]!) + tokenErrorRate(preds[1]!, refs[1]!)) / 2,
    0.75,
    'mean of sentence rates',
  );
  close(corpusTokenErrorRate(preds, refs), 5 / 9, 'corpus rate');
  assert.ok(Number.isNaN(corpusTokenErrorRate([], [])));
  assert.throws(() => corpusTokenErrorRate([], ['x']), /corpusTokenErrorRate: preds has 0 answers but refs has 1/);
});

test('taskScores: means of exact match and token F1, corpus chrF and error rate', () => {
  const refs = ['AE1 B AH0 K AH0 S', 'K AE1 T', 'D AO1 G'];
  const preds = ['ae1 b ah0 k ah0 s', 'K AE1 T', 'D AA1 G'];
  const s = taskScores(preds, refs);
  assert.equal(s.items, 3);
  close(s.exactMatch, 2 / 3, 'exact match (the first matches after lowercasing)');
  close(s.tokenF1, (1 + 1 + 2 / 3) / 3, 'token F1');
  close(s.chrF, corpusChrF(preds, refs), 'chrF is the corpus score');
  assert.ok(s.chrF < 100 && s.chrF > 0);
  // Case counts here: 6 substitutions in the first, 0, 1 in the third, over 6 + 3 + 3 reference tokens.
  close(s.tokenErrorRate, 7 / 12, 'token error rate over the strings as given');
  const perfect = taskScores(refs, refs);
  assert.deepEqual(perfect, { items: 3, exactMatch: 1, tokenF1: 1, chrF: 100, tokenErrorRate: 0 });
  const none = taskScores([], []);
  assert.equal(none.items, 0);
  assert.ok(
    [none.exactMatch, none.tokenF1, none.chrF, none.tokenErrorRate].every(Number.isNaN),
    'nothing scored: NaN, written as null',
  );
  assert.throws(
    () => taskScores(['a', 'b'], ['a']),
    /taskScores: preds has 2 answers but refs has 1; pass one entry of refs per prediction, in the same order/,
  );
});

test('agreementScores compares with the teacher answers instead of references', () => {
  const teacher = ['K AE1 T', 'D AO1 G'];
  const a = agreementScores(['K AE1 T', 'D AA1 G'], teacher);
  close(a.teacherExact, 0.5, 'teacher exact');
  close(a.teacherChrF, corpusChrF(['K AE1 T', 'D AA1 G'], teacher), 'teacher chrF');
  assert.deepEqual(agreementScores(teacher, teacher), { teacherExact: 1, teacherChrF: 100 });
  assert.throws(
    () => agreementScores(['a'], ['a', 'b']),
    /agreementScores: preds has 1 answers but teacherAnswers has 2/,
  );
});
