// The record encodings: packed ids at several vocabulary sizes (2^18 boundaries, V not a power of
// two), fp16 log-probs within fp16 rounding, the tail mass, sizes per token, and version 1 stores
// (f32, written before layout.encoding existed) still read.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { crc32 } from 'node:zlib';
import { mulberry32 } from '../../runtime/index.ts';
import { packedBytes, packIds, unpackIds } from './bitpack.ts';
import { bytesPerToken, encodings, F16_MAX, recordBytes } from './codec.ts';
import { idBits, layoutSchema, RECORD_MAGIC } from './format.ts';
import { StoreReader } from './store.ts';
import { tailOf } from './targets.ts';

/** fp16 rounds to nearest: within half a unit in the last place, 2^-11 of the value, or 2^-25 below 2^-14. */
const f16Close = (got: number, want: number) => Math.abs(got - want) <= Math.abs(want) * 2 ** -11 + 2 ** -25;

test('ids round-trip through ceil(log2 V) bits, at 2^18 boundaries and V not a power of two', () => {
  const cases: [number, number][] = [
    [1, 1],
    [2, 1],
    [3, 2],
    [255, 8],
    [256, 8],
    [257, 9],
    [151_936, 18],
    [2 ** 18 - 1, 18],
    [2 ** 18, 18],
    [2 ** 18 + 1, 19],
    [262_145, 19],
    [2 ** 31, 31],
  ];
  const rng = mulberry32(7);
  for (const [v, bits] of cases) {
    assert.equal(idBits(v), bits, `V ${v}`);
    // Both ends of the range, and odd counts so the stream ends mid-byte.
    const ids = [0, v - 1, ...Array.from({ length: 101 }, () => Math.floor(rng() * v)), v - 1];
    const bytes = new Uint8Array(packedBytes(ids.length, bits));
    packIds(ids, bits, bytes);
    assert.deepEqual([...unpackIds(bytes, bits, ids.length)], ids, `V ${v}`);
  }
  assert.throws(() => packIds([2 ** 18], 18, new Uint8Array(3)), /id 262144 at 0 does not fit in 18 bits/);
  assert.equal(packedBytes(20 * 128, 18), 5760);
});

const layout = (o: object) => layoutSchema.parse({ seq: 5, topK: 3, vocabSize: 151_936, ...o });

function randomRecord(l: ReturnType<typeof layout>, seed: number) {
  const rng = mulberry32(seed);
  const n = l.seq * l.topK;
  const logprobs = Float32Array.from({ length: n }, (_, j) => (j % l.topK === 0 ? -rng() * 0.01 : -1 - rng() * 20));
  logprobs[1] = -Infinity; // a masked token: stored as −65504 (exp 0), never NaN
  logprobs[2] = -1e-7; // subnormal range
  return {
    ids: Int32Array.from({ length: n }, () => Math.floor(rng() * l.vocabSize)),
    logprobs,
    tail: tailOf(logprobs, l.seq, l.topK),
    hidden: l.hidden.map(() => Float32Array.from({ length: l.seq * l.dModel }, () => rng() - 0.5)),
  };
}

test('a compact record round-trips: ids exact, log-probs within fp16 rounding, the tail kept', () => {
  for (const vocabSize of [151_936, 2 ** 18, 2 ** 18 + 1, 1000]) {
    const l = layout({ vocabSize, hidden: [0, 2], dModel: 3 });
    const rec = randomRecord(l, vocabSize);
    const payload = new Uint8Array(recordBytes(l)).subarray(16);
    encodings.compact.encode(rec, l, payload);
    const back = encodings.compact.decode(payload, l);
    assert.deepEqual([...back.ids], [...rec.ids]);
    back.logprobs.forEach((v, j) => {
      const want = Math.max(rec.logprobs[j]!, -F16_MAX);
      assert.ok(f16Close(v, want), `log-prob ${j}: ${v} vs ${want}`);
    });
    back.tail!.forEach((v, t) => assert.ok(f16Close(v, rec.tail[t]!), `tail ${t}: ${v} vs ${rec.tail[t]}`));
    assert.deepEqual(back.hidden, rec.hidden);
  }
});

test('the tail is log(1 − Σ p) of the entries, and −∞ when they hold all the mass', () => {
  const lp = [Math.log(0.5), Math.log(0.25), Math.log(0.6), Math.log(0.4)];
  const tail = tailOf(lp, 2, 2);
  assert.ok(Math.abs(tail[0]! - Math.log(0.25)) < 1e-7);
  assert.equal(tail[1], -Infinity);
});

test('bytes per token: 87.1 compact against 160.1 f32 at k 20, V 151936, 128 tokens', () => {
  const l = layout({ seq: 128, topK: 20 });
  // Per position: 20 fp16 log-probs (40), an fp16 tail (2), 20 ids of 18 bits (45) = 87; the header adds 16/128.
  assert.equal(recordBytes(l), 16 + 128 * 87);
  assert.equal(bytesPerToken(l), 87.125);
  assert.equal(bytesPerToken({ ...l, encoding: 'f32' }), 160.125);
  // The packed ids are padded so hidden states start 4-aligned: 3 positions × 3 entries of 18 bits.
  const odd = layout({ seq: 3, hidden: [1], dModel: 2 });
  assert.equal(recordBytes(odd), 16 + (3 * 3 * 2 + 3 * 2 + 21 + 3) + 3 * 2 * 4);
});

test('a version 1 store (f32 records, no layout.encoding) is still read', () => {
  const dir = mkdtempSync(join(tmpdir(), 'retort-store-v1-'));
  try {
    const seq = 2,
      k = 2;
    const ids = Int32Array.from([5, 7, 1, 0]),
      lps = Float32Array.from([-0.1, -2.5, -0.3, -1.7]);
    const payload = new Uint8Array(seq * k * 8);
    payload.set(new Uint8Array(ids.buffer), 0);
    payload.set(new Uint8Array(lps.buffer), seq * k * 4);
    const head = new DataView(new ArrayBuffer(16));
    [RECORD_MAGIC, 0, payload.length, crc32(payload)].forEach((v, i) => head.setUint32(i * 4, v, true));
    writeFileSync(join(dir, 'records.bin'), Buffer.concat([new Uint8Array(head.buffer), payload]));
    const layoutV1 = { seq, topK: k, hidden: [], dModel: 0, vocabSize: 8 };
    const identity = { teacher: 't', tokenizer: 'tok', dataset: 'd' };
    writeFileSync(
      join(dir, 'manifest.json'),
      JSON.stringify({ format: 'retort-teacher-store', version: 1, identity, layout: layoutV1, count: 1 }),
    );
    const r = new StoreReader(dir);
    assert.equal(r.layout.encoding, 'f32');
    assert.equal(r.layout.targets, 'topk');
    const rec = r.get(0);
    assert.deepEqual([...rec.ids], [...ids]);
    assert.deepEqual([...rec.logprobs], [...lps]);
    assert.equal(rec.tail, undefined);
    r.close();
  } finally {
    rmSync(dir, { recursive: true });
  }
});
