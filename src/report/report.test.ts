import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseEvalReport } from '../eval/index.ts';
import { renderReport, runData } from './report.ts';
import { sampleReportInput, sampleTaskEvalReport, sampleTaskReportInput } from './testing.ts';

test('the report is one self-contained file: chart.js and the data inline, nothing fetched', () => {
  const html = renderReport(sampleReportInput());
  assert.match(html, /^<!doctype html>/);
  assert.ok(html.includes('Chart.js v4'), 'chart.js is inlined');
  assert.doesNotMatch(html, /<(script|link|img)[^>]+(src|href)=/i, 'no external scripts, styles or images');
  const ids = [...html.matchAll(/<canvas id="([^"]+)"/g)].map((m) => m[1]);
  assert.deepEqual(ids, [
    'chart-loss-0',
    'chart-loss-1',
    'chart-loss-2',
    'chart-val-accuracy',
    'chart-val-perplexity',
    'chart-size-quality',
  ]);
  const json = /<script type="application\/json" id="report-data">([\s\S]*?)<\/script>/.exec(html)![1]!;
  const data = JSON.parse(json);
  assert.equal(data.runs.length, 3);
  assert.equal(data.eval.models.length, 3);
});

test('text is escaped: titles, descriptions, prompts', () => {
  const html = renderReport(sampleReportInput());
  assert.ok(html.includes('<title>Retort demo &lt;test&gt;</title>'));
  assert.ok(html.includes('The state of the &lt;Union&gt;'));
  assert.ok(html.includes('SOTU addresses after 1900 &lt;held out&gt;'));
  assert.ok(!html.includes('<Union>'));
});

test('the teacher-vs-student table has a row per model with the eval figures', () => {
  const html = renderReport(sampleReportInput());
  const table = /<table class="eval">([\s\S]*?)<\/table>/.exec(html)![1]!;
  assert.equal([...table.matchAll(/<tr class="(teacher|student)">/g)].length, 3);
  assert.ok(
    table.includes('<th>ppl</th>') && table.includes('<th>top-1 agree</th>') && table.includes('<th>peak MB</th>'),
  );
  assert.ok(table.includes('20.0×'), 'the student is 20× smaller than the teacher');
});

test('runData keeps steps and evaluations in order and drops non-finite values', () => {
  const r = runData(sampleReportInput().runs[1]!);
  assert.equal(r.steps.length, 40);
  assert.deepEqual(Object.keys(r.steps[0]!.terms), ['kd', 'kd/ce', 'hidden']);
  assert.deepEqual(
    r.evals.map((e) => e.step),
    [10, 20, 30, 40],
  );
});

const evalTableOf = (html: string) => /<table class="eval">([\s\S]*?)<\/table>/.exec(html)![1]!;
const taskHeads = ['exact', 'tok F1', 'chrF', 'PER/WER', 'exact vs t', 'chrF vs t', 't logp/tok', 'ms/answer'];

test('without task scores the report has no answer columns, chart or examples', () => {
  const html = renderReport(sampleReportInput());
  const table = evalTableOf(html);
  for (const h of taskHeads) assert.ok(!table.includes(`<th>${h}</th>`), h);
  assert.ok(!html.includes('<canvas id="chart-exact-match"') && !html.includes('<table class="examples">'));
});

test("task scores: the eval table has the answer columns, with each model's figures", () => {
  const r = sampleTaskEvalReport();
  assert.deepEqual(parseEvalReport(JSON.parse(JSON.stringify(r))), r, 'the sample is a valid eval JSON');
  const html = renderReport(sampleTaskReportInput());
  const table = evalTableOf(html);
  const heads = [...table.matchAll(/<th>([^<]*)<\/th>/g)].map((m) => m[1]!);
  const at = heads.indexOf('exact');
  assert.deepEqual(heads.slice(at, at + taskHeads.length), taskHeads, 'the answer columns, in order');
  const rows = [...table.matchAll(/<tr class="(?:teacher|student)">([\s\S]*?)<\/tr>/g)].map((m) =>
    [...m[1]!.matchAll(/<td[^>]*>([^<]*)<\/td>/g)].map((c) => c[1]!),
  );
  assert.equal(rows.length, 3);
  assert.deepEqual(
    rows[1]!.slice(at, at + taskHeads.length),
    ['62.5%', '0.850', '88.1', '11.0%', '75.0%', '93.4', '-0.480', '6.2'],
    'the student',
  );
  assert.deepEqual(rows[0]!.slice(at, at + 2), ['75.0%', '0.900'], 'the teacher');
  assert.ok(
    html.includes('maxNewTokens 24, temperature 0 (greedy), top-p 1, top-k 0, seed 0'),
    'the generation settings are stated',
  );
});

test('task scores: an exact-match bar chart per model after the size chart', () => {
  const html = renderReport(sampleTaskReportInput());
  const ids = [...html.matchAll(/<canvas id="([^"]+)"/g)].map((m) => m[1]);
  assert.deepEqual(ids.slice(-2), ['chart-size-quality', 'chart-exact-match']);
});

test("examples: prompts, reference, then each model side by side in the models' order; wrong answers marked; HTML escaped", () => {
  const html = renderReport(sampleTaskReportInput());
  const table = /<table class="examples">([\s\S]*?)<\/table>/.exec(html)![1]!;
  const heads = [...table.matchAll(/<th>([^<]*)<\/th>/g)].map((m) => m[1]);
  assert.deepEqual(
    heads,
    ['prompt', 'reference', 'teacher', 'student', 'baseline'],
    'model order, not the order of the answers object',
  );
  const rows = [...table.matchAll(/<tr>([\s\S]*?)<\/tr>/g)].map((m) => m[1]!).filter((r) => r.includes('<td'));
  assert.equal(rows.length, 3);
  const cells = (row: string) => [...row.matchAll(/<td class="([^"]*)"[^>]*>([^<]*)<\/td>/g)].map((m) => [m[1], m[2]]);
  assert.deepEqual(
    cells(rows[0]!),
    [
      ['prompt', 'ABACUS'],
      ['reference', 'AE1 B AH0 K AH0 S'],
      ['answer right', 'AE1 B AH0 K AH0 S'],
      ['answer right', 'ae1 b ah0 k ah0 s'],
      ['answer wrong', 'AE1 B AH0 K AH1 S'],
    ],
    'an answer differing only in case counts as right (the exact-match normalization); a wrong phoneme is marked',
  );
  assert.ok(
    rows[1]!.includes(
      '<td class="answer wrong" title="differs from the reference">&lt;img src=x onerror=alert(1)&gt;</td>',
    ),
    'answers are escaped',
  );
  assert.deepEqual(
    cells(rows[2]!),
    [
      ['prompt', 'Q &amp; &lt;A&gt;'],
      ['reference', ''],
      ['answer', 'K Y UW1'],
      ['answer', 'K Y UW1 &lt;b&gt;'],
      ['answer missing', ''],
    ],
    'no reference: nothing marked; a missing answer is an empty cell',
  );
  const page = html.replace(/<script>[\s\S]*?<\/script>/g, '');
  assert.ok(!page.includes('<img') && !page.includes('<b>'), 'no answer reaches the page as markup');
  const json = /<script type="application\/json" id="report-data">([\s\S]*?)<\/script>/.exec(html)![1]!;
  assert.ok(!json.includes('<'), 'the embedded JSON escapes < too');
  assert.equal(
    JSON.parse(json).eval.examples[1].answers.baseline,
    '<img src=x onerror=alert(1)>',
    'and the data keeps the answer as it was',
  );
  assert.match(html, /td\.answer\.wrong \{ background: #[0-9a-f]+; \}/, 'wrong answers are coloured');
});
