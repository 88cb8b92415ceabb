import assert from 'node:assert/strict';
import {
  closeSync,
  ftruncateSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { Gpt2 } from '../../models/gpt2/model.ts';
import { hostTensor, mulberry32, ParamStore } from '../../runtime/index.ts';
import { LocalTeacher } from '../../teachers/index.ts';
import { recordBytes } from './codec.ts';
import { layoutSchema } from './format.ts';
import { datasetHash, labelDataset } from './label.ts';
import { StoreReader, StoreWriter } from './store.ts';
import { tailOf } from './targets.ts';
import { StoreTeacher } from './teacher.ts';

const V = 20,
  T = 6;
const model = new Gpt2({ vocabSize: V, maxPositions: T, dModel: 16, nLayers: 2, nHeads: 2 });
const teacher = new LocalTeacher('t', model, ParamStore.init(model.params.values(), 1));
const rng = mulberry32(3);
const examples = Array.from({ length: 10 }, () => Int32Array.from({ length: T }, () => Math.floor(rng() * V)));
const tmp = () => mkdtempSync(join(tmpdir(), 'retort-store-'));

test('an f32 store returns exactly what the live teacher says', async () => {
  const dir = tmp();
  await labelDataset(teacher, examples, dir, { topK: 4, hidden: [2], tokenizer: 'tok', batch: 3, encoding: 'f32' });
  const store = new StoreTeacher('cached', new StoreReader(dir), examples);
  const ids = hostTensor('int64', [2, T], [...examples[7]!, ...examples[2]!]);
  const live = await teacher.score({ ids, topK: 4, hidden: [2] });
  const cached = await store.score({ ids, topK: 4, hidden: [2] });
  assert.deepEqual(cached.topk!.ids.data, live.topk!.ids.data);
  assert.deepEqual(cached.topk!.logprobs.data, live.topk!.logprobs.data);
  assert.deepEqual(cached.hidden![0]!.data, live.hidden![0]!.data);
  assert.equal(cached.topk!.tail, undefined);
  assert.deepEqual(store.sparse, { targets: 'topk', tail: false });
  rmSync(dir, { recursive: true });
});

test('a compact store (the default) returns the same ids, log-probs within fp16 rounding, and the tail', async () => {
  const dir = tmp();
  await labelDataset(teacher, examples, dir, { topK: 4, hidden: [2], tokenizer: 'tok', batch: 3 });
  const reader = new StoreReader(dir);
  assert.equal(reader.layout.encoding, 'compact');
  assert.equal(reader.manifest.version, 2);
  assert.equal(reader.manifest.bytesPerToken, recordBytes(reader.layout) / T);
  const store = new StoreTeacher('cached', reader, examples);
  assert.deepEqual(store.sparse, { targets: 'topk', tail: true });
  const ids = hostTensor('int64', [2, T], [...examples[7]!, ...examples[2]!]);
  const live = await teacher.score({ ids, topK: 4, hidden: [2] });
  for (const k of [4, 2]) {
    const cached = await store.score({ ids, topK: k, hidden: [2] });
    const liveLp = live.topk!.logprobs.data as Float32Array;
    const sub = <X>(x: ArrayLike<X>, p: number) => Array.from({ length: k }, (_, j) => x[p * 4 + j]!);
    const wantTail = tailOf(Array.from({ length: 2 * T }, (_, p) => sub(liveLp, p)).flat(), 2 * T, k);
    for (let p = 0; p < 2 * T; p++) {
      assert.deepEqual(
        Array.from({ length: k }, (_, j) => cached.topk!.ids.data[p * k + j]),
        sub(live.topk!.ids.data as BigInt64Array, p),
      );
      for (let j = 0; j < k; j++) {
        const got = cached.topk!.logprobs.data[p * k + j] as number,
          want = liveLp[p * 4 + j]!;
        assert.ok(Math.abs(got - want) <= Math.abs(want) * 2 ** -11, `log-prob ${p}/${j}: ${got} vs ${want}`);
      }
      // With k < 4 the dropped entries join the tail.
      const tail = cached.topk!.tail!.data[p] as number;
      assert.ok(Math.abs(tail - wantTail[p]!) <= 2e-3 * Math.abs(wantTail[p]!), `tail ${p}: ${tail} vs ${wantTail[p]}`);
    }
    assert.deepEqual(cached.hidden![0]!.data, live.hidden![0]!.data);
  }
  reader.close();
  rmSync(dir, { recursive: true });
});

test('a killed labelling run resumes and holds each example once', async () => {
  const dir = tmp();
  const identity = { teacher: teacher.fingerprint, tokenizer: 'tok', dataset: datasetHash(examples) };
  // First run: 5 examples committed, then 2 written but never committed (the process "dies").
  const w = StoreWriter.open(dir, identity, { seq: T, topK: 4, vocabSize: V }, { commitEvery: 5 });
  const rec = { ids: new Int32Array(T * 4), logprobs: new Float32Array(T * 4), tail: new Float32Array(T), hidden: [] };
  for (let i = 0; i < 7; i++) w.append(rec);
  assert.equal(new StoreReader(dir).count, 5);
  // Second run: picks up at example 5 and labels the rest for real.
  const r = await labelDataset(teacher, examples, dir, { topK: 4, tokenizer: 'tok' });
  assert.deepEqual(r, { labelled: 5, skipped: 5 });
  const reader = new StoreReader(dir);
  assert.equal(reader.count, 10);
  // Compact records of 6 positions × 4 entries: fp16 log-probs 48, tails 12, 5-bit ids 15, padding 1.
  assert.equal(readFileSync(join(dir, 'records.bin')).length, 10 * (16 + 76), 'no uncommitted tail left behind');
  for (let i = 0; i < 10; i++) reader.get(i);
  rmSync(dir, { recursive: true });
});

test('outputs of another teacher, tokenizer or dataset are refused', async () => {
  const dir = tmp();
  await labelDataset(teacher, examples, dir, { topK: 2, tokenizer: 'tok' });
  const other = new LocalTeacher('u', model, ParamStore.init(model.params.values(), 2));
  await assert.rejects(labelDataset(other, examples, dir, { topK: 2, tokenizer: 'tok' }), /holds outputs for teacher/);
  await assert.rejects(
    labelDataset(teacher, examples, dir, { topK: 2, tokenizer: 'other' }),
    /holds outputs for tokenizer/,
  );
  await assert.rejects(
    labelDataset(teacher, examples.slice(1), dir, { topK: 2, tokenizer: 'tok' }),
    /holds outputs for dataset/,
  );
  assert.throws(
    () => new StoreReader(dir, { teacher: 'x', tokenizer: 'tok', dataset: datasetHash(examples) }),
    /holds outputs for teacher/,
  );
  rmSync(dir, { recursive: true });
});

test('a damaged store is refused, not half-read', async () => {
  const dir = tmp();
  await labelDataset(teacher, examples, dir, { topK: 2, tokenizer: 'tok' });
  const path = join(dir, 'records.bin');
  const bytes = readFileSync(path);
  bytes[16 + 3] ^= 0xff; // a flipped bit inside record 0's payload
  writeFileSync(path, bytes);
  assert.throws(() => new StoreReader(dir).get(0), /record 0 fails its checksum/);
  writeFileSync(path, bytes.subarray(0, 100));
  assert.throws(() => new StoreReader(dir), /truncated/);
  writeFileSync(join(dir, 'manifest.json'), '{"format":"retort-teacher-store"');
  assert.throws(() => new StoreReader(dir), /cannot read the store manifest/);
  rmSync(dir, { recursive: true });
});

test('a store of another encoding, k or target kind is refused, naming the field and the fix', async () => {
  const dir = tmp();
  const base = { topK: 2, tokenizer: 'tok' };
  await labelDataset(teacher, examples, dir, base);
  const refusals: [object, RegExp][] = [
    [{ encoding: 'f32' }, /layout\.encoding is "compact", but this run asks for "f32"; set encoding: compact/],
    [
      { topK: 3 },
      /layout\.topK is 2, but this run asks for 3; set topK: 2 \(the offline step's topK, or retort label --top-k 2\)/,
    ],
    [
      { targets: 'sampled', samples: 2 },
      /layout\.targets is "topk", but this run asks for "sampled"; set targets: topk/,
    ],
  ];
  for (const [o, message] of refusals)
    await assert.rejects(labelDataset(teacher, examples, dir, { ...base, ...o }), message);
  // The reader refuses too, given what the run expects; the store itself is untouched and still serves.
  assert.throws(
    () => new StoreReader(dir, undefined, { encoding: 'f32' }),
    /manifest\.json: layout\.encoding is "compact"/,
  );
  assert.throws(() => new StoreReader(dir, undefined, { targets: 'sampled' }), /layout\.targets is "topk"/);
  assert.equal(new StoreReader(dir, undefined, { encoding: 'compact', topK: 2, targets: 'topk' }).count, 10);
  // A sampled store names samples as the fix for another count of draws.
  const sampled = tmp();
  await labelDataset(teacher, examples, sampled, { ...base, targets: 'sampled', samples: 3 });
  await assert.rejects(
    labelDataset(teacher, examples, sampled, { ...base, targets: 'sampled', samples: 4 }),
    /layout\.topK is 3, but this run asks for 4; set samples: 3/,
  );
  // A manifest with an encoding this version does not know is refused by name, not guessed at.
  const m = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'));
  writeFileSync(join(dir, 'manifest.json'), JSON.stringify({ ...m, layout: { ...m.layout, encoding: 'q4' } }));
  assert.throws(() => new StoreReader(dir), /not a valid store manifest: layout\.encoding/);
  rmSync(dir, { recursive: true });
  rmSync(sampled, { recursive: true });
});

test('a records.bin over 2 GiB is read record by record at its offset (sparse file)', () => {
  const dir = tmp();
  try {
    const identity = { teacher: 't', tokenizer: 'tok', dataset: 'big' };
    const layout = layoutSchema.parse({ seq: 128, topK: 20, vocabSize: 151_936 });
    const size = recordBytes(layout); // 11,152 bytes
    const count = Math.ceil(2 ** 31 / size) + 3; // the last 3 records lie past 2 GiB
    // A store whose first count − 3 records are a hole: the manifest commits them, the disk holds nothing.
    StoreWriter.open(dir, identity, layout).close();
    const fd = openSync(join(dir, 'records.bin'), 'r+');
    ftruncateSync(fd, (count - 3) * size);
    closeSync(fd);
    const m = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'));
    writeFileSync(join(dir, 'manifest.json'), JSON.stringify({ ...m, count: count - 3 }));
    // The writer appends the 3 real records at their offsets, past 2^31.
    const w = StoreWriter.open(dir, identity, layout);
    const rng = mulberry32(9);
    const recs = [0, 1, 2].map(() => {
      const logprobs = Float32Array.from({ length: 128 * 20 }, () => -rng() * 8);
      return {
        ids: Int32Array.from({ length: 128 * 20 }, () => Math.floor(rng() * 151_936)),
        logprobs,
        tail: Float32Array.from({ length: 128 }, () => -rng() * 3),
        hidden: [],
      };
    });
    for (const r of recs) w.append(r);
    w.close();
    assert.ok(statSync(join(dir, 'records.bin')).size > 2 ** 31);
    const reader = new StoreReader(dir);
    assert.equal(reader.count, count);
    recs.forEach((r, j) => {
      const got = reader.get(count - 3 + j);
      assert.deepEqual(got.ids, r.ids);
      got.logprobs.forEach((v, i) => assert.ok(Math.abs(v - r.logprobs[i]!) <= Math.abs(r.logprobs[i]!) * 2 ** -11));
    });
    // A record inside the hole is all zeros: its header is refused, never served.
    assert.throws(() => reader.get(count - 4), /record \d+ has a bad header/);
    reader.close();
  } finally {
    rmSync(dir, { recursive: true });
  }
});
