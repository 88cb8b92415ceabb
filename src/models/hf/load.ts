// Loads a Hugging Face model folder (config.json + safetensors, single or sharded) into a Retort model
// and a ParamStore: one config conversion, one name mapping, every parameter checked by name and shape.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { hostTensor, ParamStore } from '../../runtime/index.ts';
import { assertFitsInMemory, type MemoryOptions } from '../checkpoint/memory.ts';
import type { TensorReader } from '../checkpoint/safetensors.ts';
import { openCheckpoint } from '../checkpoint/sharded.ts';
import { SequenceClassifier } from '../classifier/model.ts';
import type { ClassifierConfig } from '../classifier/config.ts';
import {
  families,
  familyOfModelType,
  type DecoderModel,
  type Family,
  type FamilyConfig,
  type FamilyName,
} from './families.ts';

export type HfTask = 'causal-lm' | 'sequence-classification';

interface LoadedCommon {
  family: FamilyName;
  params: ParamStore;
  /** config.json as read. */
  hfConfig: Record<string, unknown>;
}
export type LoadedHfModel =
  | (LoadedCommon & { task: 'causal-lm'; model: DecoderModel; config: FamilyConfig<FamilyName> })
  | (LoadedCommon & { task: 'sequence-classification'; model: SequenceClassifier; config: ClassifierConfig });

export interface LoadHfOptions {
  /** Default: 'sequence-classification' when config.json's architectures name a *ForSequenceClassification, else 'causal-lm'. */
  task?: HfTask;
  /**
   * The memory figures the load is checked against before any weight is read (tests inject them);
   * default: what the machine and its cgroup have available.
   */
  memory?: MemoryOptions;
}

export function readHfConfig(dir: string): Record<string, unknown> {
  const path = join(dir, 'config.json');
  if (!existsSync(path))
    throw new Error(
      `loadHfModel: ${path} does not exist; pass a Hugging Face model folder (config.json + model.safetensors)`,
    );
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
  } catch (err) {
    throw new Error(`loadHfModel: ${path} is not valid JSON (${(err as Error).message})`);
  }
}

function familyFor(hf: Record<string, unknown>, dir: string): Family<FamilyName> {
  const type = String(hf.model_type);
  const name = familyOfModelType.get(type);
  if (!name)
    throw new Error(
      `loadHfModel: ${dir}/config.json has model_type '${type}'; supported: ${[...familyOfModelType.keys()].join(', ')}`,
    );
  return families[name] as Family<FamilyName>;
}

function taskOf(hf: Record<string, unknown>): HfTask {
  const arch = Array.isArray(hf.architectures) ? hf.architectures.map(String) : [];
  return arch.some((a) => a.endsWith('ForSequenceClassification')) ? 'sequence-classification' : 'causal-lm';
}

/** The classifier head's settings from config.json (id2label names the labels; num_labels is often absent). */
function classifierFields(hf: Record<string, unknown>) {
  const id2label = hf.id2label as Record<string, string> | undefined;
  const numLabels = Number(hf.num_labels ?? (id2label ? Object.keys(id2label).length : 2));
  const labels =
    id2label && Object.keys(id2label).length === numLabels
      ? Array.from({ length: numLabels }, (_, i) => String(id2label[i] ?? `LABEL_${i}`))
      : undefined;
  const pad = hf.pad_token_id;
  // transformers always pools the last token; 'mean' is Retort's own and travels in retort_pooling.
  const pooling = hf.retort_pooling === 'mean' ? ('mean' as const) : ('last' as const);
  return { numLabels, labels, pooling, padTokenId: typeof pad === 'number' ? pad : undefined };
}

const list = (xs: string[], n = 20) => xs.slice(0, n).join(', ') + (xs.length > n ? `, ... (${xs.length} in all)` : '');

/**
 * Maps every checkpoint tensor to its parameter and checks the shapes from the headers alone, throwing
 * with every mismatch listed at once; then checks that the float32 weights fit in memory, and only then
 * reads them, one tensor at a time, each converted straight into its float32 destination.
 */
function loadParams(
  dir: string,
  params: ReadonlyMap<string, { shape: readonly number[] }>,
  mapName: (n: string) => string | null,
  memory: MemoryOptions,
): ParamStore {
  const checkpoint = openCheckpoint(dir);
  try {
    const plan = planLoad(dir, checkpoint, params, mapName);
    let elements = 0;
    for (const [, target] of plan) elements += params.get(target)!.shape.reduce((a, b) => a * b, 1);
    assertFitsInMemory(elements * 4, `loadHfModel: ${dir} holds ${elements.toLocaleString('en')} parameters`, memory);
    const store = new ParamStore();
    for (const [name, target] of plan) {
      const t = checkpoint.tensors.get(name)!;
      store.set(target, hostTensor('float32', t.shape, checkpoint.readFloat32(name)));
    }
    return store;
  } finally {
    checkpoint.close();
  }
}

/** Checkpoint name -> parameter name for every tensor to load; throws listing every mismatch at once. */
function planLoad(
  dir: string,
  checkpoint: TensorReader,
  params: ReadonlyMap<string, { shape: readonly number[] }>,
  mapName: (n: string) => string | null,
): Map<string, string> {
  const plan = new Map<string, string>();
  const unexpected: string[] = [];
  const mismatched: string[] = [];
  const seen = new Set<string>();
  for (const [name, t] of checkpoint.tensors) {
    const target = mapName(name);
    if (target === null) continue;
    const p = params.get(target);
    if (!p) {
      // A tied model's head is its embedding: checkpoints may store the copy anyway.
      if (target === 'lm_head.weight') continue;
      unexpected.push(name);
      continue;
    }
    seen.add(target);
    if (t.shape.length !== p.shape.length || t.shape.some((d, i) => d !== p.shape[i])) {
      mismatched.push(`${name}: checkpoint [${t.shape.join(', ')}] vs model [${p.shape.join(', ')}]`);
      continue;
    }
    plan.set(name, target);
  }
  const missing = [...params.keys()].filter((k) => !seen.has(k));
  if (missing.length + unexpected.length + mismatched.length > 0) {
    const parts = [
      missing.length ? `missing from the checkpoint: ${list(missing)}` : '',
      unexpected.length ? `in the checkpoint but not in the model: ${list(unexpected)}` : '',
      mismatched.length ? `shape mismatches: ${list(mismatched, 10)}` : '',
    ].filter(Boolean);
    throw new Error(
      `loadHfModel: ${dir} does not fit the model its config.json describes. ${parts.join('; ')}. Check that config.json belongs to these weights (and tie_word_embeddings, head_dim, num_key_value_heads)`,
    );
  }
  return plan;
}

/** Loads config.json and the safetensors weights in `dir` (F16/BF16 converted to float32). */
export function loadHfModel(dir: string, o: LoadHfOptions = {}): LoadedHfModel {
  const hf = readHfConfig(dir);
  const family = familyFor(hf, dir);
  const config = family.configFromHf(hf);
  const task = o.task ?? taskOf(hf);
  if (task === 'causal-lm') {
    const model = family.create(config);
    return {
      task,
      family: family.name,
      model,
      config,
      params: loadParams(dir, model.params, family.mapName, o.memory ?? {}),
      hfConfig: hf,
    };
  }
  const body =
    family.name === 'gpt2'
      ? { family: 'gpt2' as const, config: config as FamilyConfig<'gpt2'> }
      : { family: 'llama' as const, config: config as FamilyConfig<'llama'> };
  const model = new SequenceClassifier({ body, ...classifierFields(hf) });
  return {
    task,
    family: family.name,
    model,
    config: model.config,
    params: loadParams(dir, model.params, family.mapName, o.memory ?? {}),
    hfConfig: hf,
  };
}
