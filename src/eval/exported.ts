// Size against quality, per exported file: every ONNX variant in a model's export folder
// (onnx/model*.onnx) scored on the evaluation's own held-out batches by plain onnxruntime-node on
// the file itself (perplexity, and its change from the fp32 file), timed at batch 1; GGUF files
// (gguf/*.gguf) listed with their size (llama.cpp scores them in src/export/gguf's tests).
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { onnxFileBytes } from '../onnx/index.ts';
import type { Batch } from '../distill/trainer/index.ts';
import { percentile, QualityAccumulator } from './metrics.ts';

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
async function filePerplexity(
  s: ort.InferenceSession,
  batches: readonly Batch[],
  kv: { heads: number; headDim: number },
): Promise<number> {
  let quality: QualityAccumulator | undefined;
  for (const batch of batches) {
    const ids = batch.input_ids!;
    const [b, t] = ids.shape as [number, number];
    const logits = (await s.run(feedsFor(s, ids.data as BigInt64Array, b, t, kv))).logits!.data as Float32Array;
    quality ??= new QualityAccumulator(logits.length / (b * t));
    quality.add(logits, batch.labels!.data as BigInt64Array, -100);
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
}

/** One row per exported file in `dir` (a model's export folder), fp32 first. */
export async function scoreExportedFiles(dir: string, o: ExportedFilesOptions): Promise<ExportedFileRow[]> {
  const rows: ExportedFileRow[] = [];
  let fp32: number | null = null;
  for (const [name, format] of ONNX_VARIANTS) {
    const path = join(dir, 'onnx', name);
    if (!existsSync(path)) continue;
    const s = await ort.InferenceSession.create(path, { intraOpNumThreads: o.threads });
    try {
      const perplexity = await filePerplexity(s, o.batches, o.kv);
      if (format === 'fp32') fp32 = perplexity;
      let latencyMs: number | null = null;
      if (o.runs > 0) {
        const ids = BigInt64Array.from({ length: o.seq }, (_, i) => BigInt(i % 7));
        const feeds = feedsFor(s, ids, 1, o.seq, o.kv);
        await s.run(feeds);
        const times: number[] = [];
        for (let r = 0; r < o.runs; r++) {
          const t0 = performance.now();
          await s.run(feeds);
          times.push(performance.now() - t0);
        }
        latencyMs = percentile(times, 50);
      }
      rows.push({
        file: `onnx/${name}`,
        format,
        bytes: onnxFileBytes(path),
        perplexity,
        perplexityChange: fp32 !== null && format !== 'fp32' ? perplexity / fp32 - 1 : format === 'fp32' ? 0 : null,
        latencyMs,
      });
    } finally {
      await s.release();
    }
  }
  const gguf = join(dir, 'gguf');
  if (existsSync(gguf)) {
    for (const f of readdirSync(gguf)
      .filter((x) => x.endsWith('.gguf'))
      .sort()) {
      rows.push({
        file: `gguf/${f}`,
        format: `gguf-${f.replace(/^model-|\.gguf$/g, '')}`,
        bytes: statSync(join(gguf, f)).size,
        perplexity: null,
        perplexityChange: null,
        latencyMs: null,
      });
    }
  }
  return rows;
}
