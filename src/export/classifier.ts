// Exports a sequence classifier as a model folder beside the decoder export's layout:
//   config.json (Hugging Face *ForSequenceClassification, plus retort_seq_len), tokenizer.json,
//   onnx/model.onnx            input_ids int64 [batch_size, seq], attention_mask int64 [batch_size, seq] → logits [batch_size, labels]
//   onnx/model_quantized.onnx  int8 weights (with { int8: true })
// The sequence length is fixed (texts are padded to it, as in training): the classifier's position
// ids are a constant of the traced graph, so only the batch size is symbolic.
import { modelFolder, transformersJsConfig, writeOnnxFiles } from './folder.ts';
import { lowerPolymorphic } from './polymorphic.ts';
import type { QuantizeReport } from './quantize.ts';
import { input } from '../graph/index.ts';
import { hfConfigOf, type SequenceClassifier } from '../models/index.ts';
import { ParamStore, type HostTensor } from '../runtime/index.ts';

export interface ClassifierExportResult {
  dir: string;
  files: string[];
  modelBytes: number;
  quantizedBytes?: number;
  quantize?: QuantizeReport;
  /** The ONNX files (names inside onnx/) whose weights are in a `<file>_data` beside them. */
  externalData: string[];
}

export function exportClassifierOnnx(
  model: SequenceClassifier,
  params: ParamStore | ReadonlyMap<string, HostTensor>,
  dir: string,
  o: { seq: number; int8?: boolean; tokenizer?: { save(dir: string): void }; externalData?: boolean | 'auto' },
): ClassifierExportResult {
  const values = params instanceof ParamStore ? params.values : params;
  const initializers = new Map(
    [...model.params.keys()].map((name) => {
      const v = values.get(name);
      if (!v) throw new Error(`exportClassifierOnnx: parameter '${name}' has no value; pass the model's ParamStore`);
      return [name, v.data];
    }),
  );
  const seq = o.seq;
  const onnx = lowerPolymorphic({
    dims: [{ name: 'batch_size', from: { input: 'input_ids', axis: 0 } }],
    bindings: [{ batch_size: 2 }, { batch_size: 3 }, { batch_size: 5 }],
    trace: ({ batch_size: b }) => {
      const ids = input('input_ids', [b!, seq], 'int64'); // (B, T)
      const mask = input('attention_mask', [b!, seq], 'int64'); // (B, T)
      return { logits: model.forward(ids, { mask }).logits }; // (B, L)
    },
    io: { input_ids: ['batch_size', null], attention_mask: ['batch_size', null], logits: ['batch_size', null] },
    lower: {
      name: 'retort_classifier',
      contribOps: false,
      initializers,
      metadata: { producer: 'retort', seq_len: String(seq) },
    },
  }).model;
  const folder = modelFolder(dir);
  const { files, write } = folder;
  const result: ClassifierExportResult = {
    dir,
    files,
    ...writeOnnxFiles(folder, onnx, o.int8 ? 'dynamic' : false, { externalData: o.externalData }),
  };
  const config = transformersJsConfig({ ...hfConfigOf(model), retort_seq_len: seq }, result.externalData);
  write('config.json', `${JSON.stringify(config, null, 2)}\n`);
  if (o.tokenizer) {
    o.tokenizer.save(dir);
    files.push('tokenizer.json', 'tokenizer_config.json');
  }
  return result;
}
