// What llama.cpp expects of each architecture, one row per family: the `general.architecture` name,
// the hyperparameter keys, and each Retort (Hugging Face-named) parameter's GGUF tensor name and
// layout. Follows llama.cpp's per-architecture tensor lists (llama-arch.cpp) and what its
// convert_hf_to_gguf.py writes:
//   gpt2   HF's Conv1D weights are (in, out): transposed to (out, in), which GGUF lists as [in, out].
//   llama  (dialects llama and mistral) llama.cpp rotates interleaved pairs, HF rotates halves: the
//          rows of q_proj and k_proj are permuted per head so both rotate the same dimensions.
//   qwen2  rotates halves as HF does (NeoX style): written as they are, with the q/k/v biases.
import type { Gpt2Config } from '../../models/gpt2/config.ts';
import type { LlamaConfig } from '../../models/llama/config.ts';
import { f32, type GgufValue, u32 } from './format.ts';

/** One tensor to write: its GGUF name, its values row-major, and its shape (outermost first, as stored). */
export interface ArchTensor {
  name: string;
  values: Float32Array;
  shape: readonly number[];
  /** Norm weights and biases stay F32 whatever the file's type (llama.cpp reads them so). */
  keepF32: boolean;
  /** The token embedding or the output head: kept at 8 bits or more in 4-bit files. */
  embedding: boolean;
}

type Get = (name: string) => { data: Float32Array; shape: readonly number[] } | undefined;

export interface ArchRow {
  arch(config: never): string;
  metadata(config: never): [string, GgufValue][];
  tensors(config: never, get: Get): ArchTensor[];
}

function need(get: Get, name: string): { data: Float32Array; shape: readonly number[] } {
  const t = get(name);
  if (!t) throw new Error(`GGUF export: the model has no parameter '${name}'`);
  return t;
}

function transpose(x: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(x.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = x[r * cols + c]!;
  return out;
}

/** convert_hf_to_gguf's LlamaModel.permute: within each head, rows (pair i, half h) move to (i, h) interleaved. */
function permuteRotary(x: Float32Array, rows: number, cols: number, heads: number): Float32Array {
  const headRows = rows / heads;
  const half = headRows / 2;
  const out = new Float32Array(x.length);
  for (let h = 0; h < heads; h++) {
    for (let s = 0; s < 2; s++) {
      for (let i = 0; i < half; i++) {
        const from = h * headRows + s * half + i;
        const to = h * headRows + i * 2 + s;
        out.set(x.subarray(from * cols, (from + 1) * cols), to * cols);
      }
    }
  }
  return out;
}

const plain = (
  get: Get,
  hf: string,
  name: string,
  kind: Partial<Pick<ArchTensor, 'keepF32' | 'embedding'>> = {},
): ArchTensor => {
  const t = need(get, hf);
  return {
    name,
    values: t.data,
    shape: t.shape,
    keepF32: kind.keepF32 ?? t.shape.length === 1,
    embedding: kind.embedding ?? false,
  };
};

export const ARCHS: Record<'gpt2' | 'llama', ArchRow> = {
  gpt2: {
    arch: () => 'gpt2',
    metadata: (c: Gpt2Config) => [
      ['gpt2.context_length', u32(c.maxPositions)],
      ['gpt2.embedding_length', u32(c.dModel)],
      ['gpt2.feed_forward_length', u32(c.dModel * c.mlpRatio)],
      ['gpt2.block_count', u32(c.nLayers)],
      ['gpt2.attention.head_count', u32(c.nHeads)],
      ['gpt2.attention.layer_norm_epsilon', f32(c.layerNormEps)],
    ],
    tensors: (c: Gpt2Config, get) => {
      if (c.gelu !== 'tanh')
        throw new Error(
          `GGUF export: llama.cpp's gpt2 uses the tanh GELU; this model's gelu is '${c.gelu}', whose outputs would differ`,
        );
      const conv = (hf: string, name: string): ArchTensor => {
        const t = need(get, hf);
        const [rows, cols] = t.shape as [number, number];
        return { name, values: transpose(t.data, rows, cols), shape: [cols, rows], keepF32: false, embedding: false };
      };
      const out: ArchTensor[] = [
        plain(get, 'transformer.wte.weight', 'token_embd.weight', { embedding: true }),
        plain(get, 'transformer.wpe.weight', 'position_embd.weight', { keepF32: true }),
      ];
      for (let i = 0; i < c.nLayers; i++) {
        const p = `transformer.h.${i}`;
        out.push(
          plain(get, `${p}.ln_1.weight`, `blk.${i}.attn_norm.weight`),
          plain(get, `${p}.ln_1.bias`, `blk.${i}.attn_norm.bias`),
          conv(`${p}.attn.c_attn.weight`, `blk.${i}.attn_qkv.weight`),
          plain(get, `${p}.attn.c_attn.bias`, `blk.${i}.attn_qkv.bias`),
          conv(`${p}.attn.c_proj.weight`, `blk.${i}.attn_output.weight`),
          plain(get, `${p}.attn.c_proj.bias`, `blk.${i}.attn_output.bias`),
          plain(get, `${p}.ln_2.weight`, `blk.${i}.ffn_norm.weight`),
          plain(get, `${p}.ln_2.bias`, `blk.${i}.ffn_norm.bias`),
          conv(`${p}.mlp.c_fc.weight`, `blk.${i}.ffn_up.weight`),
          plain(get, `${p}.mlp.c_fc.bias`, `blk.${i}.ffn_up.bias`),
          conv(`${p}.mlp.c_proj.weight`, `blk.${i}.ffn_down.weight`),
          plain(get, `${p}.mlp.c_proj.bias`, `blk.${i}.ffn_down.bias`),
        );
      }
      out.push(
        plain(get, 'transformer.ln_f.weight', 'output_norm.weight'),
        plain(get, 'transformer.ln_f.bias', 'output_norm.bias'),
      );
      if (!c.tieWordEmbeddings) out.push(plain(get, 'lm_head.weight', 'output.weight', { embedding: true }));
      return out;
    },
  },
  llama: {
    arch: (c: LlamaConfig) => (c.dialect === 'qwen2' ? 'qwen2' : 'llama'),
    metadata: (c: LlamaConfig) => {
      const a = c.dialect === 'qwen2' ? 'qwen2' : 'llama';
      if (c.ropeScaling)
        throw new Error(
          `GGUF export: RoPE scaling (${c.ropeScaling.kind}) is not written yet; export the model without it`,
        );
      return [
        [`${a}.context_length`, u32(c.maxPositions)],
        [`${a}.embedding_length`, u32(c.dModel)],
        [`${a}.feed_forward_length`, u32(c.mlpHidden)],
        [`${a}.block_count`, u32(c.nLayers)],
        [`${a}.attention.head_count`, u32(c.nHeads)],
        [`${a}.attention.head_count_kv`, u32(c.nKvHeads)],
        [`${a}.attention.key_length`, u32(c.headDim)],
        [`${a}.attention.value_length`, u32(c.headDim)],
        [`${a}.rope.dimension_count`, u32(c.headDim)],
        [`${a}.rope.freq_base`, f32(c.ropeTheta)],
        [`${a}.attention.layer_norm_rms_epsilon`, f32(c.rmsNormEps)],
      ];
    },
    tensors: (c: LlamaConfig, get) => {
      const neox = c.dialect === 'qwen2';
      if (c.oBias && neox)
        throw new Error("GGUF export: llama.cpp's qwen2 has no attention output bias; this model has one");
      const rotary = (hf: string, name: string, heads: number): ArchTensor => {
        const t = need(get, hf);
        const [rows, cols] = t.shape as [number, number];
        const values = neox ? t.data : permuteRotary(t.data, rows, cols, heads);
        return { name, values, shape: t.shape, keepF32: false, embedding: false };
      };
      const rotaryBias = (hf: string, name: string, heads: number): ArchTensor | undefined => {
        const t = get(hf);
        if (!t) return undefined;
        return {
          name,
          values: neox ? t.data : permuteRotary(t.data, t.shape[0]!, 1, heads),
          shape: t.shape,
          keepF32: true,
          embedding: false,
        };
      };
      const optional = (hf: string, name: string) => (get(hf) ? plain(get, hf, name) : undefined);
      const out: (ArchTensor | undefined)[] = [
        plain(get, 'model.embed_tokens.weight', 'token_embd.weight', { embedding: true }),
      ];
      for (let i = 0; i < c.nLayers; i++) {
        const p = `model.layers.${i}`;
        out.push(
          plain(get, `${p}.input_layernorm.weight`, `blk.${i}.attn_norm.weight`),
          rotary(`${p}.self_attn.q_proj.weight`, `blk.${i}.attn_q.weight`, c.nHeads),
          rotaryBias(`${p}.self_attn.q_proj.bias`, `blk.${i}.attn_q.bias`, c.nHeads),
          rotary(`${p}.self_attn.k_proj.weight`, `blk.${i}.attn_k.weight`, c.nKvHeads),
          rotaryBias(`${p}.self_attn.k_proj.bias`, `blk.${i}.attn_k.bias`, c.nKvHeads),
          plain(get, `${p}.self_attn.v_proj.weight`, `blk.${i}.attn_v.weight`),
          optional(`${p}.self_attn.v_proj.bias`, `blk.${i}.attn_v.bias`),
          plain(get, `${p}.self_attn.o_proj.weight`, `blk.${i}.attn_output.weight`),
          optional(`${p}.self_attn.o_proj.bias`, `blk.${i}.attn_output.bias`),
          plain(get, `${p}.post_attention_layernorm.weight`, `blk.${i}.ffn_norm.weight`),
          plain(get, `${p}.mlp.gate_proj.weight`, `blk.${i}.ffn_gate.weight`),
          plain(get, `${p}.mlp.up_proj.weight`, `blk.${i}.ffn_up.weight`),
          plain(get, `${p}.mlp.down_proj.weight`, `blk.${i}.ffn_down.weight`),
        );
      }
      out.push(plain(get, 'model.norm.weight', 'output_norm.weight'));
      if (!c.tieWordEmbeddings) out.push(plain(get, 'lm_head.weight', 'output.weight', { embedding: true }));
      return out.filter((t): t is ArchTensor => t !== undefined);
    },
  },
};
