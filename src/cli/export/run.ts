import { exportDecoderOnnx } from '../../export/index.ts';
import { exportClassifierOnnx } from '../../export/index.ts';
import { loadModelDir } from '../model-dir.ts';
import type { ExportValues } from './schema.ts';
import type { CommandContext } from '../command.ts';

export async function run({ values, io, json }: CommandContext<ExportValues>) {
  const m = loadModelDir('--model', values.model, 'export');
  const tokenizer = m.tokenizer;
  let files: string[], bytes: number, int8Bytes: number | undefined;
  if (m.loaded.task === 'causal-lm') {
    const r = exportDecoderOnnx(m.loaded.model, m.loaded.params, values.out, { int8: values.int8, tokenizer });
    [files, bytes, int8Bytes] = [r.files, r.modelBytes, r.quantizedBytes];
  } else {
    const seq = values.seq ?? Number(m.loaded.hfConfig.retort_seq_len ?? 128);
    const r = exportClassifierOnnx(m.loaded.model, m.loaded.params, values.out, { seq, int8: values.int8, tokenizer });
    [files, bytes, int8Bytes] = [r.files, r.modelBytes, r.quantizedBytes];
  }
  if (!json) {
    io.out(
      `exported ${m.loaded.task} model ${m.dir} to ${values.out}: onnx/model.onnx ${(bytes / 1e6).toFixed(2)} MB${int8Bytes ? `, onnx/model_quantized.onnx ${(int8Bytes / 1e6).toFixed(2)} MB` : ''}`,
    );
    if (!tokenizer)
      io.out('note: the model folder has no tokenizer.json, so the export has none; retort web needs one');
    io.out(`next: retort web --dir ${values.out}`);
  }
  return { out: values.out, task: m.loaded.task, files, bytes, int8Bytes: int8Bytes ?? null };
}
