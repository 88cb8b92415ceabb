import assert from 'node:assert/strict';
import { test } from 'node:test';
import { EVAL_SCHEMA, EVAL_VERSION, parseEvalReport, type EvalReport, type ModelEval } from './schema.ts';
import { formatEvalTable } from './table.ts';
import { taskScores } from '../data/task/metrics.ts';

function model(name: string, role: 'teacher' | 'student', params: number): ModelEval {
  return {
    name,
    role,
    params,
    files: { fp32: null, int8: null },
    quality: { items: 10, accuracy: 0.5, perplexity: 3, nll: Math.log(3) },
    agreement: { items: 10, top1: 0.8, kl: 0.1 },
    speed: null,
    memory: null,
  };
}

/** An evaluation as written before task scores existed. */
function plain(): EvalReport {
  return {
    schema: EVAL_SCHEMA,
    version: EVAL_VERSION,
    createdAt: new Date(0).toISOString(),
    task: 'lm',
    data: { description: 'cmudict held-out words', batches: 1, seq: 32 },
    settings: { threads: 1, warmup: 0, runs: 0, throughputBatch: 1 },
    teacher: 'teacher',
    models: [model('teacher', 'teacher', 4_000_000), model('student', 'student', 200_000)],
  };
}

function withTask(): EvalReport {
  const refs = ['AE1 B AH0 K AH0 S', 'K AE1 T'];
  const s = taskScores(['AE1 B AH0 K AH1 S', 'K AE1 T'], refs);
  const r = plain();
  r.models[0]!.task = {
    ...taskScores(refs, refs),
    teacherExact: 1,
    teacherChrF: 100,
    teacherLogprob: -0.25,
    latencyMsPerAnswer: 30,
  };
  r.models[1]!.task = { ...s, teacherExact: 0.5, teacherChrF: null, teacherLogprob: null, latencyMsPerAnswer: 4.25 };
  r.generation = { maxNewTokens: 16, temperature: 0.7, topP: 0.9, topK: 40, seed: 7 };
  r.examples = [
    { prompt: 'ABACUS', reference: refs[0]!, answers: { teacher: refs[0]!, student: 'AE1 B AH0 K AH1 S' } },
    { prompt: 'hi', reference: null, answers: {} },
  ];
  return r;
}

test('the schema takes task scores, generation settings and examples as optional fields', () => {
  const old = plain();
  assert.deepEqual(parseEvalReport(JSON.parse(JSON.stringify(old))), old, 'an evaluation without them still reads');
  const r = withTask();
  assert.deepEqual(parseEvalReport(JSON.parse(JSON.stringify(r))), r, 'the new fields survive JSON');
  const noTeacher = { ...r.models[1]!, task: { ...r.models[1]!.task!, teacherExact: null } };
  assert.equal(parseEvalReport({ ...r, models: [r.models[0], noTeacher] }).models[1]!.task!.teacherExact, null);
  assert.equal(
    parseEvalReport({ ...r, models: [{ ...r.models[0], task: null }, r.models[1]] }).models[0]!.task,
    null,
    'task: null reads',
  );
});

test('the schema refuses malformed task fields by path', () => {
  const r = withTask();
  const { latencyMsPerAnswer: _, ...partial } = r.models[1]!.task!;
  assert.throws(
    () => parseEvalReport({ ...r, models: [r.models[0], { ...r.models[1], task: partial }] }, 'x.json'),
    /x\.json: not a Retort evaluation \(models\.1\.task\.latencyMsPerAnswer/,
  );
  assert.throws(
    () => parseEvalReport({ ...r, generation: { ...r.generation, topP: 0 } }, 'x.json'),
    /\(generation\.topP/,
  );
  assert.throws(
    () => parseEvalReport({ ...r, generation: { ...r.generation, maxNewTokens: 0 } }, 'x.json'),
    /\(generation\.maxNewTokens/,
  );
  assert.throws(
    () => parseEvalReport({ ...r, examples: [{ prompt: 'a', reference: 'b', answers: { student: 3 } }] }, 'x.json'),
    /\(examples\.0\.answers\.student/,
  );
});

test('the terminal table shows the answer columns and their note only when a model has task scores', () => {
  const before = formatEvalTable(plain());
  assert.doesNotMatch(before, /chrF|PER\/WER|ms\/answer/);
  const table = formatEvalTable(withTask());
  const [head, , teacher, student] = table.split('\n');
  assert.match(
    head!,
    /KL\(t‖s\)\s+exact\s+tok F1\s+chrF\s+PER\/WER\s+exact vs t\s+chrF vs t\s+t logp\/tok\s+ms\/answer\s+p50 ms/,
  );
  // The student: one answer of two exact; one phoneme of 9 wrong (11.1%); no teacher chrF or log-prob.
  assert.match(student!, /^student .* 50\.0%\s+0\.917\s+\d+\.\d\s+11\.1%\s+50\.0%\s+–\s+–\s+4\.3 /);
  assert.match(teacher!, /^teacher .* 100\.0%\s+1\.000\s+100\.0\s+0\.0%\s+100\.0%\s+100\.0\s+-0\.250\s+30\.0 /);
  assert.match(
    table,
    /Answers: exact match and token F1 after normalization .* 'teacher's mean log-probability per token .* maxNewTokens 16, temperature 0\.7, top-p 0\.9, top-k 40, seed 7\./,
  );
});
