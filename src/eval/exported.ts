// Size against quality, per exported file, each scored on the file itself with the evaluation's own
// held-out batches: ONNX variants (onnx/model*.onnx) by plain onnxruntime-node, GGUF files
// (gguf/*.gguf) by llama.cpp (node-llama-cpp, where installed). Each row has the file's bytes, its
// perplexity and change from the fp32 file's, batch-1 latency, and the peak resident memory of a
// process that loads and runs only that file.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { onnxFileBytes } from '../onnx/index.ts';
import type { Batch } from '../distill/trainer/index.ts';
import { scoreGgufFile } from './gguf-score.ts';
import { fileDims, measurePeakMemory } from './memory.ts';
import { QualityAccumulator } from './metrics.ts';
import { groupRows, rowGroups } from './row-groups.ts';

/** The ONNX variants by file name, as transformers.js names their dtypes. */
const ONNX_VARIANTS: [file: string, format: string][] = [
  ['model.onnx', 'fp32'],
  ['model_quantized.onnx', 'int8'],
  ['model_fp16.onnx', 'fp16'],
  ['model_q4.onnx', 'q4'],
  ['model_q4f16.onnx', 'q4f16'],
];

export interface ExportedFileRow {
  /** Path inside the export folder (onnx/model_q4.onnx). */
  file: string;
  format: string;
  /** On disk, with the file's external data (`<file>_data`) when it has some. */
  bytes: number;
  /** On the evaluation's batches, scored on the file itself; null for GGUF files. */
  perplexity: number | null;
  /** Relative change from the fp32 file's perplexity (0.0075 = +0.75%). */
  perplexityChange: number | null;
  /** Batch-1 forward over the evaluation's sequence length, p50 in ms (as the table's other latencies); null when not timed. */
  latencyMs: number | null;
  /** Peak resident memory (VmHWM) of a process that loaded and ran only this file; null when not measured. */
  peakBytes: number | null;
  /** Why a figure is missing (a GGUF file without node-llama-cpp installed). */
  note?: string;
}

/** Feeds for a decoder file: ids, an all-ones mask, positions and empty past keys/values. */
function feedsFor(
  s: ort.InferenceSession,
  ids: BigInt64Array,
  b: number,
  t: number,
  kv: { heads: number; headDim: number },
) {
  const feeds: Record<string, ort.Tensor> = {
    input_ids: new ort.Tensor('int64', ids, [b, t]),
    attention_mask: new ort.Tensor('int64', new BigInt64Array(b * t).fill(1n), [b, t]),
    position_ids: new ort.Tensor(
      'int64',
      BigInt64Array.from({ length: b * t }, (_, i) => BigInt(i % t)),
      [b, t],
    ),
  };
  for (const name of s.inputNames) {
    if (name.startsWith('past_key_values'))
      feeds[name] = new ort.Tensor('float32', new Float32Array(0), [b, kv.heads, 0, kv.headDim]);
  }
  return Object.fromEntries(Object.entries(feeds).filter(([k]) => s.inputNames.includes(k)));
}

/** Perplexity of a file over LM batches, accumulated as the evaluation scores models (labels −100 not scored). */
async function filePerplexity(s: ort.InferenceSession, o: ExportedFilesOptions): Promise<number> {
  let quality: QualityAccumulator | undefined;
  for (const batch of o.batches) {
    const [b, t] = batch.input_ids!.shape as [number, number];
    for (const { input_ids: ids, labels } of rowGroups(batch, groupRows(b, t, o.vocab, o.logitBytes))) {
      const rows = ids!.shape[0]!;
      const logits = (await s.run(feedsFor(s, ids!.data as BigInt64Array, rows, t, o.kv))).logits!.data as Float32Array;
      quality ??= new QualityAccumulator(logits.length / (rows * t));
      quality.add(logits, labels!.data as BigInt64Array, -100);
    }
  }
  return quality ? quality.perplexity() : Number.NaN;
}

export interface ExportedFilesOptions {
  /** The evaluation's LM batches (input_ids, labels). */
  batches: readonly Batch[];
  /** Key/value heads and head size, for the empty past the decoder files take. */
  kv: { heads: number; headDim: number };
  /** Timed batch-1 runs per file (0: no latency). */
  runs: number;
  threads: number;
  seq: number;
  /** Token ids of the memory runs' feeds are below this; the width of the files' logits. */
  vocab: number;
  /** Most bytes of logits one run may return (row-groups.ts); default LOGIT_BYTES. */
  logitBytes?: number;
  /** Measure each file's peak memory in a process of its own (default true). */
  memory?: boolean;
  log?: (line: string) => void;
}

const change = (ppl: number | null, fp32: number | null) => (ppl !== null && fp32 !== null ? ppl / fp32 - 1 : null);

async function onnxRow(path: string, file: string, format: string, o: ExportedFilesOptions) {
  const s = await ort.InferenceSession.create(path, { intraOpNumThreads: o.threads });
  let perplexity: number;
  try {
    perplexity = await filePerplexity(s, o);
  } finally {
    await s.release();
  }
  // Latency and memory come from one process that holds only onnxruntime and this file.
  const m =
    o.memory !== false || o.runs > 0
      ? await measurePeakMemory(path, {
          dims: fileDims(o.seq),
          vocab: o.vocab,
          threads: o.threads,
          runs: 1,
          timedRuns: o.runs,
        })
      : null;
  return {
    file,
    format,
    bytes: onnxFileBytes(path),
    perplexity,
    latencyMs: o.runs > 0 ? (m?.latencyMs?.p50 ?? null) : null,
    peakBytes: o.memory !== false ? (m?.peakBytes ?? null) : null,
  };
}

async function ggufRow(path: string, file: string, o: ExportedFilesOptions) {
  const format = `gguf-${file.replace(/^gguf\/(model-)?|\.gguf$/g, '')}`;
  const base = { file, format, bytes: statSync(path).size };
  const r = await scoreGgufFile(path, { batches: o.batches, seq: o.seq, runs: o.runs, threads: o.threads });
  if ('missing' in r) return { ...base, perplexity: null, latencyMs: null, peakBytes: null, note: r.missing };
  return {
    ...base,
    perplexity: r.perplexity,
    latencyMs: o.runs > 0 ? (r.latencyMs ?? null) : null,
    peakBytes: o.memory !== false ? r.peakBytes : null,
  };
}

/** One row per exported file in `dir` (a model's export folder), fp32 first, then the other ONNX files, then GGUF. */
export async function scoreExportedFiles(dir: string, o: ExportedFilesOptions): Promise<ExportedFileRow[]> {
  const rows: Omit<ExportedFileRow, 'perplexityChange'>[] = [];
  for (const [name, format] of ONNX_VARIANTS) {
    const path = join(dir, 'onnx', name);
    if (!existsSync(path)) continue;
    o.log?.(`scoring onnx/${name} in onnxruntime`);
    rows.push(await onnxRow(path, `onnx/${name}`, format, o));
  }
  const gguf = join(dir, 'gguf');
  if (existsSync(gguf)) {
    for (const f of readdirSync(gguf)
      .filter((x) => x.endsWith('.gguf'))
      .sort()) {
      o.log?.(`scoring gguf/${f} in llama.cpp`);
      rows.push(await ggufRow(join(gguf, f), `gguf/${f}`, o));
    }
  }
  const fp32 = rows.find((r) => r.format === 'fp32')?.perplexity ?? null;
  return rows.map((r) => ({ ...r, perplexityChange: change(r.perplexity, fp32) }));
}
