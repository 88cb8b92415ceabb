// The student a run config describes: built fresh from model.family and model.config (vocabulary
// from the tokenizer by default), or loaded from model.hfDir; checked against the tokenizer and
// data.seqLen, with errors naming the config field.
import { createModel, loadHfModel } from '../../models/index.ts';
import type { Tokenizer } from '../../models/tokenizers/tokenizer.ts';
import type { DecoderModel } from '../../models/types.ts';
import { ParamStore } from '../../runtime/index.ts';
import { configIssue } from './errors.ts';
import type { LoadedRunConfig } from './load.ts';

export interface BuiltModel {
  model: DecoderModel;
  params: ParamStore;
}

/** The model the config describes: fresh (config, vocabulary from the tokenizer by default) or loaded (hfDir). */
export function modelFromConfig(c: LoadedRunConfig<unknown>, tokenizer: Tokenizer, file: string): BuiltModel {
  let model: DecoderModel, params: ParamStore;
  if (c.model.hfDir) {
    const loaded = loadHfModel(c.model.hfDir);
    if (loaded.task !== 'causal-lm')
      throw configIssue(
        file,
        'model.hfDir',
        'a causal language model folder',
        JSON.stringify(c.model.hfDir),
        'point it at a *ForCausalLM / *LMHeadModel folder (this one holds a sequence classifier)',
      );
    // The folder's config.json decides the architecture; a family that says otherwise is a mistake in the config, not a conversion to make.
    if (loaded.family !== c.model.family) {
      const holds = `a ${loaded.family} model (config.json model_type '${String(loaded.hfConfig.model_type)}')`;
      throw configIssue(
        file,
        'model.family',
        `the family of model.hfDir, which holds ${holds}`,
        JSON.stringify(c.model.family),
        `set model.family to ${loaded.family}, or point model.hfDir at a ${c.model.family} folder`,
      );
    }
    model = loaded.model;
    params = loaded.params;
  } else {
    model = createModel(c.model.family, { vocabSize: tokenizer.vocabSize, ...c.model.config } as never) as DecoderModel;
    params = ParamStore.init(model.params.values(), c.seed);
  }
  if (model.config.vocabSize < tokenizer.vocabSize) {
    throw configIssue(
      file,
      c.model.hfDir ? 'model.hfDir' : 'model.config.vocabSize',
      `at least the tokenizer's ${tokenizer.vocabSize} ids`,
      String(model.config.vocabSize),
      "leave vocabSize out (it defaults to the tokenizer's) or use the model's own tokenizer (data.tokenizer: {kind: hf, path: ...})",
    );
  }
  const maxPositions = (model.config as { maxPositions?: number }).maxPositions;
  if (maxPositions !== undefined && maxPositions < c.data.seqLen) {
    throw configIssue(
      file,
      'data.seqLen',
      `at most the model's maxPositions ${maxPositions}`,
      String(c.data.seqLen),
      `set data.seqLen to ${maxPositions} or less, or raise model.config.maxPositions`,
    );
  }
  return { model, params };
}
