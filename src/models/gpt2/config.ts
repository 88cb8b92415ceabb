// GPT-2 family configuration, with field names of our own and one function that reads
// Hugging Face's config.json dialect into them.
import { z } from 'zod';

export const gpt2ConfigSchema = z
  .object({
    vocabSize: z.number().int().positive(),
    /** Longest context the position table covers (HF: n_positions). */
    maxPositions: z.number().int().positive(),
    /** Width of the residual stream (HF: n_embd). */
    dModel: z.number().int().positive(),
    nLayers: z.number().int().positive(),
    nHeads: z.number().int().positive(),
    layerNormEps: z.number().positive().default(1e-5),
    /** 'tanh' is GPT-2's gelu_new; 'none' is the exact erf form. */
    gelu: z.enum(['none', 'tanh']).default('tanh'),
    /** MLP width as a multiple of dModel (HF: n_inner / n_embd, 4 when null). */
    mlpRatio: z.number().positive().default(4),
    tieWordEmbeddings: z.boolean().default(true),
    dropout: z.number().min(0).max(0.99).default(0),
    bosTokenId: z.number().int().optional(),
    eosTokenId: z.number().int().optional(),
  })
  .refine((c) => c.dModel % c.nHeads === 0, {
    message: 'dModel must be divisible by nHeads (each head gets dModel/nHeads dimensions)',
  });

export type Gpt2Config = z.output<typeof gpt2ConfigSchema>;
export type Gpt2ConfigInput = z.input<typeof gpt2ConfigSchema>;

const GELU_OF: Record<string, 'none' | 'tanh'> = {
  gelu_new: 'tanh',
  gelu_pytorch_tanh: 'tanh',
  gelu_fast: 'tanh',
  gelu: 'none',
};

/** Reads a Hugging Face GPT2Config (config.json) into a Gpt2Config. */
export function gpt2ConfigFromHf(hf: Record<string, unknown>): Gpt2Config {
  const act = String(hf.activation_function ?? 'gelu_new');
  if (!(act in GELU_OF))
    throw new Error(
      `config.json: activation_function '${act}' is not supported for GPT-2 (use one of ${Object.keys(GELU_OF).join(', ')})`,
    );
  const nEmbd = Number(hf.n_embd);
  return gpt2ConfigSchema.parse({
    vocabSize: hf.vocab_size,
    maxPositions: hf.n_positions ?? hf.n_ctx,
    dModel: nEmbd,
    nLayers: hf.n_layer,
    nHeads: hf.n_head,
    layerNormEps: hf.layer_norm_epsilon ?? 1e-5,
    gelu: GELU_OF[act],
    mlpRatio: hf.n_inner ? Number(hf.n_inner) / nEmbd : 4,
    tieWordEmbeddings: hf.tie_word_embeddings ?? true,
    bosTokenId: hf.bos_token_id ?? undefined,
    eosTokenId: hf.eos_token_id ?? undefined,
  });
}

/** Writes a Gpt2Config as a Hugging Face config.json object. */
export function gpt2ConfigToHf(c: Gpt2Config): Record<string, unknown> {
  return {
    model_type: 'gpt2',
    architectures: ['GPT2LMHeadModel'],
    vocab_size: c.vocabSize,
    n_positions: c.maxPositions,
    n_ctx: c.maxPositions,
    n_embd: c.dModel,
    n_layer: c.nLayers,
    n_head: c.nHeads,
    n_inner: c.mlpRatio === 4 ? null : Math.round(c.mlpRatio * c.dModel),
    layer_norm_epsilon: c.layerNormEps,
    activation_function: c.gelu === 'tanh' ? 'gelu_new' : 'gelu',
    tie_word_embeddings: c.tieWordEmbeddings,
    resid_pdrop: c.dropout,
    embd_pdrop: c.dropout,
    attn_pdrop: c.dropout,
    bos_token_id: c.bosTokenId ?? null,
    eos_token_id: c.eosTokenId ?? null,
  };
}
