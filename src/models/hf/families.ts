import { gpt2ConfigFromHf, gpt2ConfigToHf, type Gpt2Config, type Gpt2ConfigInput } from '../gpt2/config.ts';
import { Gpt2 } from '../gpt2/model.ts';
import { llamaConfigFromHf, llamaConfigToHf, type LlamaConfig, type LlamaConfigInput } from '../llama/config.ts';
import { Llama } from '../llama/model.ts';
import type { DecoderModel } from '../types.ts';

export type { DecoderModel } from '../types.ts';

interface FamilyTypes {
  gpt2: { config: Gpt2Config; input: Gpt2ConfigInput; model: Gpt2 };
  llama: { config: LlamaConfig; input: LlamaConfigInput; model: Llama };
}
export type FamilyName = keyof FamilyTypes;
export type FamilyConfig<F extends FamilyName> = FamilyTypes[F]['config'];
export type FamilyConfigInput<F extends FamilyName> = FamilyTypes[F]['input'];
export type FamilyModel<F extends FamilyName> = FamilyTypes[F]['model'];

export interface Family<F extends FamilyName> {
  name: F;
  /** config.json model_type values this family reads. */
  modelTypes: readonly string[];
  /** Architecture names for config.json: [causal LM, sequence classifier], by model_type. */
  architectures: (c: FamilyConfig<F>) => { causalLm: string; classifier: string };
  configFromHf: (hf: Record<string, unknown>) => FamilyConfig<F>;
  configToHf: (c: FamilyConfig<F>) => Record<string, unknown>;
  create: (c: FamilyConfigInput<F>) => FamilyModel<F>;
  /** Checkpoint tensor name → parameter name, or null for a buffer that is not a parameter. */
  mapName: (name: string) => string | null;
}

/** Names outside the body (LM head, classifier head) keep their name; body names get `prefix.` if a base-model checkpoint left it off. */
const withBodyPrefix =
  (prefix: string) =>
  (name: string): string =>
    name.startsWith(`${prefix}.`) || name.startsWith('lm_head.') || name.startsWith('score.')
      ? name
      : `${prefix}.${name}`;

const gpt2Family: Family<'gpt2'> = {
  name: 'gpt2',
  modelTypes: ['gpt2'],
  architectures: () => ({ causalLm: 'GPT2LMHeadModel', classifier: 'GPT2ForSequenceClassification' }),
  configFromHf: gpt2ConfigFromHf,
  configToHf: gpt2ConfigToHf,
  create: (c) => new Gpt2(c),
  // GPT2Model checkpoints (the original 'gpt2') have no 'transformer.' prefix; older ones also store the
  // causal-mask buffers attn.bias and attn.masked_bias (not c_attn.bias, a real parameter).
  mapName: (name) => (/(^|\.)attn\.(masked_)?bias$/.test(name) ? null : withBodyPrefix('transformer')(name)),
};

const LLAMA_ARCH = { llama: 'Llama', qwen2: 'Qwen2', mistral: 'Mistral' } as const;

const llamaFamily: Family<'llama'> = {
  name: 'llama',
  modelTypes: ['llama', 'qwen2', 'mistral'],
  architectures: (c) => ({
    causalLm: `${LLAMA_ARCH[c.dialect]}ForCausalLM`,
    classifier: `${LLAMA_ARCH[c.dialect]}ForSequenceClassification`,
  }),
  configFromHf: llamaConfigFromHf,
  configToHf: llamaConfigToHf,
  create: (c) => new Llama(c),
  // Older checkpoints store each layer's rotary inv_freq buffer; Retort computes it from the config.
  mapName: (name) => (/\.rotary_emb\.inv_freq$/.test(name) ? null : withBodyPrefix('model')(name)),
};

export const families: { readonly [F in FamilyName]: Family<F> } = { gpt2: gpt2Family, llama: llamaFamily };

/** config.json model_type → family name. */
export const familyOfModelType: ReadonlyMap<string, FamilyName> = new Map(
  Object.values(families).flatMap((f) => f.modelTypes.map((t) => [t, f.name] as [string, FamilyName])),
);

/** A fresh model of a family (parameters declared, values not yet set: see ParamStore.init). */
export function createModel<F extends FamilyName>(family: F, config: FamilyConfigInput<F>): FamilyModel<F> {
  const row = families[family] as Family<F> | undefined;
  if (!row) throw new Error(`createModel: unknown family '${family}'; known: ${Object.keys(families).join(', ')}`);
  return row.create(config);
}

/** The family a model instance belongs to. */
export function familyOf(model: DecoderModel): FamilyName {
  if (model instanceof Gpt2) return 'gpt2';
  if (model instanceof Llama) return 'llama';
  throw new Error(
    `familyOf: ${model.constructor.name} is not a model of a known family (${Object.keys(families).join(', ')})`,
  );
}

/** A fresh model of the same family and config as `model` (its parameters declared anew, e.g. under a prefix). */
export function freshModelLike(model: DecoderModel): DecoderModel {
  return createModel(familyOf(model), model.config as never);
}

/** The family as a log names it, with the Llama dialect: 'gpt2', 'llama (qwen2)'. */
export function familyLabel(model: DecoderModel): string {
  return model instanceof Llama ? `llama (${model.config.dialect})` : familyOf(model);
}
