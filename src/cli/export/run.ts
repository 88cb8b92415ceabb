import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { atomicWriteFile } from '../../io/atomic-write.ts';
import { encodeGgufModel, exportClassifierOnnx, exportDecoderOnnx, parseFormats } from '../../export/index.ts';
import { UsageError, type CommandContext } from '../command.ts';
import { loadModelDir } from '../model-dir.ts';
import type { ExportValues } from './schema.ts';

export async function run({ values, io, json }: CommandContext<ExportValues>) {
  let formats;
  try {
    formats = parseFormats(values.formats);
  } catch (err) {
    throw new UsageError(`--formats ${values.formats}: ${(err as Error).message}`, 'export');
  }
  const m = loadModelDir('--model', values.model, 'export');
  const tokenizer = m.tokenizer;
  const int8 = values.int8 || formats.some((f) => f.name === 'int8');
  const gguf = formats.filter((f) => f.kind === 'gguf');
  // Checked before anything is written.
  if (gguf.length && m.loaded.task !== 'causal-lm')
    throw new UsageError(
      `--formats ${gguf[0]!.name}: GGUF holds language models; ${m.dir} is a ${m.loaded.task} model`,
      'export',
    );
  if (gguf.length && !tokenizer)
    throw new UsageError(
      `--formats ${gguf[0]!.name}: ${m.dir} has no tokenizer.json, and a GGUF file carries its tokenizer`,
      'export',
    );
  // GGUF files are encoded first: a tensor a format cannot hold is refused before any file is written.
  const ggufBytes = gguf.map((f) => {
    try {
      return encodeGgufModel(m.loaded.model as never, m.loaded.params, {
        type: f.gguf!,
        tokenizer: m.dir,
        name: m.name,
      }).bytes;
    } catch (err) {
      throw new UsageError(`--formats ${f.name}: ${(err as Error).message.replace(/^GGUF export: /, '')}`, 'export');
    }
  });
  const externalData = { auto: 'auto', always: true, never: false }[values['external-data']] as boolean | 'auto';
  const written: { file: string; bytes: number }[] = [];
  let files: string[];
  if (m.loaded.task === 'causal-lm') {
    const q4 = formats.some((f) => f.name === 'q4');
    const has = (name: string) => formats.some((f) => f.name === name);
    const r = exportDecoderOnnx(m.loaded.model, m.loaded.params, values.out, {
      int8,
      q4,
      fp16: has('fp16'),
      q4f16: has('q4f16'),
      tokenizer,
      externalData,
    });
    files = r.files;
    written.push({ file: 'onnx/model.onnx', bytes: r.modelBytes });
    if (r.quantizedBytes) written.push({ file: 'onnx/model_quantized.onnx', bytes: r.quantizedBytes });
    if (r.q4Bytes) written.push({ file: 'onnx/model_q4.onnx', bytes: r.q4Bytes });
    if (r.fp16Bytes) written.push({ file: 'onnx/model_fp16.onnx', bytes: r.fp16Bytes });
    if (r.q4f16Bytes) written.push({ file: 'onnx/model_q4f16.onnx', bytes: r.q4f16Bytes });
  } else {
    const seq = values.seq ?? Number(m.loaded.hfConfig.retort_seq_len ?? 128);
    const r = exportClassifierOnnx(m.loaded.model, m.loaded.params, values.out, { seq, int8, tokenizer, externalData });
    files = r.files;
    written.push({ file: 'onnx/model.onnx', bytes: r.modelBytes });
    if (r.quantizedBytes) written.push({ file: 'onnx/model_quantized.onnx', bytes: r.quantizedBytes });
  }
  gguf.forEach((f, i) => {
    mkdirSync(join(values.out, 'gguf'), { recursive: true });
    atomicWriteFile(join(values.out, f.file), ggufBytes[i]!);
    written.push({ file: f.file, bytes: ggufBytes[i]!.byteLength });
    files.push(f.file);
  });
  if (!json) {
    io.out(`exported ${m.loaded.task} model ${m.dir} to ${values.out}:`);
    for (const w of written) {
      const data = files.includes(`${w.file}_data`) ? ` (weights in ${w.file}_data)` : '';
      io.out(`  ${w.file.padEnd(28)} ${(w.bytes / 1e6).toFixed(2).padStart(8)} MB${data}`);
    }
    if (!tokenizer)
      io.out('note: the model folder has no tokenizer.json, so the export has none; retort web needs one');
    io.out(
      `next: retort web --dir ${values.out}${gguf.length ? ` (or llama.cpp / Ollama on ${join(values.out, gguf[0]!.file)})` : ''}`,
    );
  }
  const bytesOf = (file: string) => written.find((w) => w.file === file)?.bytes ?? null;
  return {
    out: values.out,
    task: m.loaded.task,
    files,
    bytes: bytesOf('onnx/model.onnx'),
    int8Bytes: bytesOf('onnx/model_quantized.onnx'),
    written,
  };
}
