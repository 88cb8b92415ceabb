// Llama-family configuration (Llama, Qwen2, Mistral share one architecture up to biases and
// windowing), with field names of our own and the one pair of functions that reads and writes
// Hugging Face's config.json dialects.
import { z } from 'zod';

/** Context extension by rescaling RoPE frequencies; only kinds whose math is position-independent. */
export const ropeScalingSchema = z.discriminatedUnion('kind', [
  /** Position interpolation (Chen et al. 2023): every frequency divided by `factor`. */
  z.object({ kind: z.literal('linear'), factor: z.number().positive() }),
  /** Llama 3.1's piecewise rescaling: low frequencies / factor, high kept, a smooth ramp between. */
  z.object({
    kind: z.literal('llama3'),
    factor: z.number().positive(),
    lowFreqFactor: z.number().positive(),
    highFreqFactor: z.number().positive(),
    /** Context length the model was pretrained with (HF: original_max_position_embeddings). */
    originalMaxPositions: z.number().int().positive(),
  }),
]);
export type RopeScaling = z.output<typeof ropeScalingSchema>;

export const llamaDialects = ['llama', 'qwen2', 'mistral'] as const;
export type LlamaDialect = (typeof llamaDialects)[number];

export const llamaConfigSchema = z
  .object({
    /** Which Hugging Face model_type this config reads from and writes back as. */
    dialect: z.enum(llamaDialects).default('llama'),
    vocabSize: z.number().int().positive(),
    /** Longest context RoPE tables cover (HF: max_position_embeddings). */
    maxPositions: z.number().int().positive(),
    /** Width of the residual stream (HF: hidden_size). */
    dModel: z.number().int().positive(),
    nLayers: z.number().int().positive(),
    /** Query heads (HF: num_attention_heads). */
    nHeads: z.number().int().positive(),
    /** Key/value heads for grouped-query attention (HF: num_key_value_heads); default nHeads. */
    nKvHeads: z.number().int().positive().optional(),
    /** Width of one head (HF: head_dim); default dModel / nHeads. Must be even for RoPE. */
    headDim: z.number().int().positive().optional(),
    /** Width of the SwiGLU MLP (HF: intermediate_size). */
    mlpHidden: z.number().int().positive(),
    rmsNormEps: z.number().positive().default(1e-6),
    /** RoPE base θ: frequencies are θ^(-2i/headDim) (HF: rope_theta). */
    ropeTheta: z.number().positive().default(10000),
    ropeScaling: ropeScalingSchema.optional(),
    /** Biases on q, k, v projections (Qwen2: always; Llama: attention_bias); default true for dialect qwen2, else false. */
    qkvBias: z.boolean().optional(),
    /** Bias on o_proj (Llama's attention_bias sets both; Qwen2 never). */
    oBias: z.boolean().default(false),
    tieWordEmbeddings: z.boolean().default(false),
    /** Std of the normal init of every matrix (HF: initializer_range). */
    initStd: z.number().positive().default(0.02),
    /**
     * Sliding-window attention span (Mistral, Qwen2 with use_sliding_window). Not implemented: forward
     * refuses sequences longer than it, where it would change the result; shorter ones are exact.
     */
    slidingWindow: z.number().int().positive().optional(),
    /** Retort's own regularization for training students: dropout on embeddings and residual branches (HF Llama has none). */
    dropout: z.number().min(0).max(0.99).default(0),
    bosTokenId: z.number().int().optional(),
    /** Llama 3 lists several end tokens. */
    eosTokenId: z.union([z.number().int(), z.array(z.number().int())]).optional(),
    padTokenId: z.number().int().optional(),
  })
  // A fresh qwen2 config gets Qwen2's q/k/v biases unless it says otherwise, so it can be saved as its dialect.
  .transform((c) => ({
    ...c,
    qkvBias: c.qkvBias ?? c.dialect === 'qwen2',
    nKvHeads: c.nKvHeads ?? c.nHeads,
    headDim: c.headDim ?? c.dModel / c.nHeads,
  }))
  .refine((c) => Number.isInteger(c.headDim), {
    message: 'dModel must be divisible by nHeads when headDim is not given (each head gets dModel/nHeads dimensions)',
  })
  .refine((c) => c.headDim % 2 === 0, { message: 'headDim must be even: RoPE rotates pairs of dimensions' })
  .refine((c) => c.nHeads % c.nKvHeads === 0, {
    message: 'nHeads must be a multiple of nKvHeads (each key/value head serves nHeads/nKvHeads query heads)',
  });

export type LlamaConfig = z.output<typeof llamaConfigSchema>;
export type LlamaConfigInput = z.input<typeof llamaConfigSchema>;

/** What each dialect fixes about biases, and how it names itself. */
const DIALECTS: Record<
  LlamaDialect,
  { architecture: string; biases: (hf: Record<string, unknown>) => { qkvBias: boolean; oBias: boolean } }
> = {
  llama: {
    architecture: 'LlamaForCausalLM',
    biases: (hf) => ({ qkvBias: Boolean(hf.attention_bias), oBias: Boolean(hf.attention_bias) }),
  },
  qwen2: { architecture: 'Qwen2ForCausalLM', biases: () => ({ qkvBias: true, oBias: false }) },
  mistral: { architecture: 'MistralForCausalLM', biases: () => ({ qkvBias: false, oBias: false }) },
};

const num = (v: unknown): number | undefined => (v === null || v === undefined ? undefined : Number(v));

/** HF's rope_scaling (or transformers 5's rope_parameters) → our RopeScaling; refuses kinds we do not implement. */
function ropeScalingFromHf(raw: unknown): RopeScaling | undefined {
  if (raw === null || raw === undefined) return undefined;
  const r = raw as Record<string, unknown>;
  const kind = String(r.rope_type ?? r.type ?? 'default');
  if (r.partial_rotary_factor !== undefined && Number(r.partial_rotary_factor) !== 1) {
    throw new Error(
      `config.json: rope partial_rotary_factor ${r.partial_rotary_factor} is not supported (Retort rotates whole heads)`,
    );
  }
  switch (kind) {
    case 'default':
      return undefined;
    case 'linear':
      return { kind: 'linear', factor: Number(r.factor) };
    case 'llama3':
      return {
        kind: 'llama3',
        factor: Number(r.factor),
        lowFreqFactor: Number(r.low_freq_factor),
        highFreqFactor: Number(r.high_freq_factor),
        originalMaxPositions: Number(r.original_max_position_embeddings),
      };
    default:
      throw new Error(
        `config.json: rope_scaling type '${kind}' is not supported (supported: default, linear, llama3). ` +
          `'dynamic', 'yarn' and 'longrope' change attention with sequence length; remove rope_scaling to run at the original context length`,
      );
  }
}

function ropeScalingToHf(s: RopeScaling | undefined): Record<string, unknown> | null {
  if (!s) return null;
  if (s.kind === 'linear') return { rope_type: 'linear', type: 'linear', factor: s.factor };
  return {
    rope_type: 'llama3',
    factor: s.factor,
    low_freq_factor: s.lowFreqFactor,
    high_freq_factor: s.highFreqFactor,
    original_max_position_embeddings: s.originalMaxPositions,
  };
}

/** Reads a Hugging Face LlamaConfig / Qwen2Config / MistralConfig (config.json) into a LlamaConfig. */
export function llamaConfigFromHf(hf: Record<string, unknown>): LlamaConfig {
  const dialect = String(hf.model_type ?? 'llama') as LlamaDialect;
  if (!llamaDialects.includes(dialect)) {
    throw new Error(
      `config.json: model_type '${hf.model_type}' is not a Llama-family type (expected one of ${llamaDialects.join(', ')})`,
    );
  }
  const act = String(hf.hidden_act ?? 'silu');
  if (act !== 'silu')
    throw new Error(`config.json: hidden_act '${act}' is not supported for ${dialect} (only 'silu', the SwiGLU gate)`);
  if (hf.mlp_bias) throw new Error(`config.json: mlp_bias true is not supported (Retort's SwiGLU MLP has no biases)`);
  const ropeParams = hf.rope_parameters as Record<string, unknown> | undefined;
  // Qwen2 applies its window only with use_sliding_window, and then only to layers from max_window_layers
  // on; Mistral whenever sliding_window is set.
  const qwenWindowed =
    Boolean(hf.use_sliding_window) && (num(hf.max_window_layers) ?? 28) < Number(hf.num_hidden_layers);
  const window = dialect === 'qwen2' && !qwenWindowed ? undefined : num(hf.sliding_window);
  const fields = {
    dialect,
    vocabSize: hf.vocab_size,
    maxPositions: hf.max_position_embeddings,
    dModel: hf.hidden_size,
    nLayers: hf.num_hidden_layers,
    nHeads: hf.num_attention_heads,
    nKvHeads: num(hf.num_key_value_heads),
    headDim: num(hf.head_dim),
    mlpHidden: hf.intermediate_size,
    rmsNormEps: num(hf.rms_norm_eps),
    ropeTheta: num(hf.rope_theta ?? ropeParams?.rope_theta),
    ropeScaling: ropeScalingFromHf(hf.rope_scaling ?? ropeParams),
    ...DIALECTS[dialect].biases(hf),
    tieWordEmbeddings: Boolean(hf.tie_word_embeddings ?? false),
    initStd: num(hf.initializer_range),
    slidingWindow: window,
    bosTokenId: num(hf.bos_token_id),
    eosTokenId: hf.eos_token_id ?? undefined,
    padTokenId: num(hf.pad_token_id),
  };
  // Absent and null fields are left out rather than set to undefined, so configs compare equal after a round trip.
  return llamaConfigSchema.parse(
    Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined && v !== null)),
  );
}

/** Writes a LlamaConfig as a Hugging Face config.json object of its dialect. */
export function llamaConfigToHf(c: LlamaConfig): Record<string, unknown> {
  const d = c.dialect;
  const want =
    d === 'qwen2'
      ? { qkvBias: true, oBias: false }
      : d === 'mistral'
        ? { qkvBias: false, oBias: false }
        : { qkvBias: c.qkvBias, oBias: c.qkvBias };
  if (want.qkvBias !== c.qkvBias || want.oBias !== c.oBias) {
    throw new Error(
      `llamaConfigToHf: dialect '${d}' cannot express qkvBias=${c.qkvBias}, oBias=${c.oBias} ` +
        `(llama: both equal, qwen2: qkv only, mistral: none); pick the dialect that matches the biases`,
    );
  }
  if (d === 'qwen2' && c.headDim * c.nHeads !== c.dModel) {
    throw new Error(
      `llamaConfigToHf: qwen2 has no head_dim field, so headDim·nHeads must equal dModel (${c.headDim}·${c.nHeads} ≠ ${c.dModel}); use dialect 'llama'`,
    );
  }
  const out: Record<string, unknown> = {
    model_type: d,
    architectures: [DIALECTS[d].architecture],
    vocab_size: c.vocabSize,
    max_position_embeddings: c.maxPositions,
    hidden_size: c.dModel,
    intermediate_size: c.mlpHidden,
    num_hidden_layers: c.nLayers,
    num_attention_heads: c.nHeads,
    num_key_value_heads: c.nKvHeads,
    head_dim: c.headDim,
    hidden_act: 'silu',
    rms_norm_eps: c.rmsNormEps,
    rope_theta: c.ropeTheta,
    rope_scaling: ropeScalingToHf(c.ropeScaling),
    tie_word_embeddings: c.tieWordEmbeddings,
    initializer_range: c.initStd,
    attention_dropout: 0,
    bos_token_id: c.bosTokenId ?? null,
    eos_token_id: c.eosTokenId ?? null,
    pad_token_id: c.padTokenId ?? null,
    torch_dtype: 'float32',
  };
  if (d === 'llama') Object.assign(out, { attention_bias: c.qkvBias, mlp_bias: false });
  if (d === 'qwen2') {
    delete out.head_dim;
    Object.assign(out, {
      use_sliding_window: c.slidingWindow !== undefined,
      sliding_window: c.slidingWindow ?? null,
      max_window_layers: c.slidingWindow !== undefined ? 0 : c.nLayers,
    });
  }
  if (d === 'mistral') out.sliding_window = c.slidingWindow ?? null;
  return out;
}
