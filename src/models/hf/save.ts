// Saves a Retort model as a Hugging Face model folder: config.json in the family's dialect and
// model.safetensors under the parameters' (Hugging Face) names, so transformers and loadHfModel read it.
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { ParamStore } from '../../runtime/index.ts';
import { atomicWriteFile } from '../../io/atomic-write.ts';
import { fromFloat32, writeSafetensors, type Tensor as StTensor } from '../checkpoint/safetensors.ts';
import { INDEX_FILE, SINGLE_FILE } from '../checkpoint/sharded.ts';
import { SequenceClassifier } from '../classifier/model.ts';
import type { Tokenizer } from '../tokenizers/tokenizer.ts';
import { families, familyOf, type DecoderModel, type Family, type FamilyName } from './families.ts';

export interface SaveHfOptions {
  /** Also writes tokenizer.json and tokenizer_config.json. */
  tokenizer?: Tokenizer;
  /** Storage dtype of the weights; default F32. */
  dtype?: 'F32' | 'F16' | 'BF16';
  /** More config.json fields (e.g. retort_seq_len, the padded length a classifier was trained at). */
  extraConfig?: Record<string, unknown>;
}

/** config.json for a model: the family's dialect, plus the head's fields for a classifier. */
export function hfConfigOf(model: DecoderModel | SequenceClassifier): Record<string, unknown> {
  if (model instanceof SequenceClassifier) {
    const c = model.config;
    const family = families[c.body.family] as Family<FamilyName>;
    const labels = c.labels ?? Array.from({ length: c.numLabels }, (_, i) => `LABEL_${i}`);
    const body = family.configToHf(c.body.config);
    return {
      ...body,
      architectures: [family.architectures(c.body.config).classifier],
      num_labels: c.numLabels,
      id2label: Object.fromEntries(labels.map((l, i) => [String(i), l])),
      label2id: Object.fromEntries(labels.map((l, i) => [l, i])),
      pad_token_id: c.padTokenId ?? body.pad_token_id ?? null,
      ...(c.pooling === 'mean' ? { retort_pooling: 'mean' } : {}),
    };
  }
  const family = families[familyOf(model)] as Family<FamilyName>;
  return {
    ...family.configToHf(model.config as never),
    architectures: [family.architectures(model.config as never).causalLm],
  };
}

/** Writes config.json + model.safetensors (each atomically) into `dir`, and the tokenizer if given. */
export function saveHfModel(
  dir: string,
  model: DecoderModel | SequenceClassifier,
  params: ParamStore,
  o: SaveHfOptions = {},
): void {
  const dtype = o.dtype ?? 'F32';
  const tensors = new Map<string, StTensor>();
  for (const [name, p] of model.params) {
    const v = params.get(name);
    if (v.shape.length !== p.rank || v.shape.some((d, i) => d !== p.shape[i])) {
      throw new Error(
        `saveHfModel: parameter '${name}' has a value of shape [${v.shape.join(', ')}] but the model declares [${p.shape.join(', ')}]`,
      );
    }
    const f32 = v.data instanceof Float32Array ? v.data : Float32Array.from(v.data as ArrayLike<number>);
    tensors.set(name, { dtype, shape: [...v.shape], data: fromFloat32(f32, dtype) } as StTensor);
  }
  const config = {
    ...hfConfigOf(model),
    torch_dtype: { F32: 'float32', F16: 'float16', BF16: 'bfloat16' }[dtype],
    ...o.extraConfig,
  };
  // transformers refuses safetensors files without format metadata.
  writeSafetensors(join(dir, SINGLE_FILE), tensors, { format: 'pt' });
  // A shard index left from an earlier save would win over the new file when loading.
  if (existsSync(join(dir, INDEX_FILE))) rmSync(join(dir, INDEX_FILE));
  atomicWriteFile(join(dir, 'config.json'), `${JSON.stringify(config, null, 2)}\n`);
  o.tokenizer?.save(dir);
}
