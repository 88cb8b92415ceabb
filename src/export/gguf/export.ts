// A Retort decoder as one GGUF file for llama.cpp, Ollama and node-llama-cpp: the architecture's
// hyperparameters (arch.ts), the tokenizer (tokenizer.ts) and every weight in the file's type.
// Which tensors take the type: 2-D weight matrices. Norm weights, biases and GPT-2's position table
// stay F32 (llama.cpp computes norms in F32 and reads them so). In Q4_0 files the token embedding
// and the output head are Q8_0: they are the tensors whose rounding costs the most quality per
// byte saved (every token's logits go through the head), which is also what llama.cpp's own
// quantizer does by keeping them at 6 bits or more.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { familyOf } from '../../models/hf/families.ts';
import type { Tokenizer } from '../../models/tokenizers/tokenizer.ts';
import type { DecoderModel } from '../../models/types.ts';
import type { ParamStore } from '../../runtime/index.ts';
import { ARCHS, type ArchTensor } from './arch.ts';
import { atomicWriteFile } from '../../io/atomic-write.ts';
import { encodeGguf, type GgufTensor, type GgufValue, str, u32 } from './format.ts';
import { GGML_TYPES, type GgmlTypeName } from './quant.ts';
import { tokenizerMetadata } from './tokenizer.ts';

/** The GGUF file types, as retort export names them, and llama.cpp's general.file_type for each. */
export const GGUF_FILE_TYPES: Record<
  'f32' | 'f16' | 'q8_0' | 'q4_0',
  { weights: GgmlTypeName; embeddings: GgmlTypeName; fileType: number }
> = {
  f32: { weights: 'F32', embeddings: 'F32', fileType: 0 },
  f16: { weights: 'F16', embeddings: 'F16', fileType: 1 },
  q8_0: { weights: 'Q8_0', embeddings: 'Q8_0', fileType: 7 },
  q4_0: { weights: 'Q4_0', embeddings: 'Q8_0', fileType: 2 },
};
export type GgufFileType = keyof typeof GGUF_FILE_TYPES;

export interface GgufExportOptions {
  type: GgufFileType;
  /** The tokenizer.json to embed: its path, or a tokenizer that can save one. */
  tokenizer: string | Tokenizer;
  /** general.name (default 'retort'). */
  name?: string;
}

export interface GgufExportResult {
  path: string;
  bytes: number;
  /** Tensors by ggml type written. */
  types: Record<string, number>;
}

function tokenizerJson(t: string | Tokenizer): unknown {
  if (typeof t === 'string')
    return JSON.parse(readFileSync(t.endsWith('.json') ? t : join(t, 'tokenizer.json'), 'utf8'));
  // A tokenizer in memory says what it is by saving itself.
  const dir = mkdtempSync(join(tmpdir(), 'retort-gguf-tok-'));
  try {
    t.save(dir);
    return JSON.parse(readFileSync(join(dir, 'tokenizer.json'), 'utf8'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The ggml type tensor `t` is stored in for a file of type `type`, and why not the file's type when it differs. */
function typeFor(t: ArchTensor, type: GgufFileType): GgmlTypeName {
  if (t.keepF32 || t.shape.length !== 2) return 'F32';
  const row = GGUF_FILE_TYPES[type];
  const want = t.embedding ? row.embeddings : row.weights;
  const cols = t.shape[1]!;
  if (GGML_TYPES[want].block > 1 && cols % GGML_TYPES[want].block !== 0) {
    throw new Error(
      `GGUF export: tensor '${t.name}' has rows of ${cols} values, which ${want}'s blocks of ${GGML_TYPES[want].block} do not divide; use --formats gguf-f16 or a width that is a multiple of ${GGML_TYPES[want].block}`,
    );
  }
  return want;
}

/** The GGUF file's bytes, encoded and checked (every refusal happens here), without writing anything. */
export function encodeGgufModel(
  model: DecoderModel,
  params: ParamStore,
  o: GgufExportOptions,
): { bytes: Uint8Array; types: Record<string, number> } {
  if (!(o.type in GGUF_FILE_TYPES))
    throw new Error(`GGUF export: unknown type '${o.type}'; one of ${Object.keys(GGUF_FILE_TYPES).join(', ')}`);
  const family = familyOf(model);
  const row = ARCHS[family as keyof typeof ARCHS];
  if (!row)
    throw new Error(
      `GGUF export: no GGUF layout for model family '${family}'; GGUF export writes ${Object.keys(ARCHS).join(' and ')}`,
    );
  const config = model.config as never as { vocabSize: number; eosTokenId?: number | number[]; bosTokenId?: number };
  const arch = row.arch(config as never);
  const get = (name: string) => {
    const v = params.values.get(name);
    return v ? { data: v.data as Float32Array, shape: v.shape } : undefined;
  };
  // Everything is checked and encoded before the file is written, so a refusal leaves nothing behind.
  const tensors = row.tensors(config as never, get);
  const eos = Array.isArray(config.eosTokenId) ? config.eosTokenId[0] : config.eosTokenId;
  const metadata = new Map<string, GgufValue>([
    ['general.architecture', str(arch)],
    ['general.name', str(o.name ?? 'retort')],
    ['general.file_type', u32(GGUF_FILE_TYPES[o.type].fileType)],
    ...row.metadata(config as never),
    ...tokenizerMetadata(tokenizerJson(o.tokenizer) as never, {
      vocabSize: config.vocabSize,
      bosId: config.bosTokenId,
      eosId: eos,
    }),
  ]);
  const types: Record<string, number> = {};
  const encoded: GgufTensor[] = tensors.map((t) => {
    const type = typeFor(t, o.type);
    types[type] = (types[type] ?? 0) + 1;
    return {
      name: t.name,
      dims: [...t.shape].reverse(),
      ggmlType: GGML_TYPES[type].id,
      data: GGML_TYPES[type].encode(t.values),
    };
  });
  return { bytes: encodeGguf(metadata, encoded), types };
}

/** Writes the model as one GGUF file at `path`, atomically. */
export function exportGguf(
  model: DecoderModel,
  params: ParamStore,
  path: string,
  o: GgufExportOptions,
): GgufExportResult {
  const { bytes, types } = encodeGgufModel(model, params, o);
  atomicWriteFile(path, bytes);
  return { path, bytes: bytes.byteLength, types };
}
