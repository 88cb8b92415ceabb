// The Llama architecture (Touvron et al. 2023), which Qwen2 and Mistral share: pre-RMSNorm blocks,
// rotary positions, grouped-query attention and a SwiGLU MLP. Parameter names are Hugging Face's
// LlamaForCausalLM names, so checkpoints load without renaming.
import { add, concat, dropout, matmul, reshape, type Tensor } from '../../graph/index.ts';
import { attention, Embedding, Linear, mergeHeads, Module, RMSNorm, splitHeads, SwiGluMlp } from '../../nn/index.ts';
import type { DecoderOutput, ForwardOptions, KvPair, LmHead } from '../types.ts';
import { llamaConfigSchema, type LlamaConfig, type LlamaConfigInput } from './config.ts';
import { applyRope, gatherRope, ropeInvFreq, ropeTables, type RopeTables } from './rope.ts';

class LlamaAttention extends Module {
  readonly q: Linear;
  readonly k: Linear;
  readonly v: Linear;
  readonly o: Linear;
  constructor(
    prefix: string,
    private readonly c: LlamaConfig,
  ) {
    super(prefix);
    const qDim = c.nHeads * c.headDim,
      kvDim = c.nKvHeads * c.headDim;
    const o = (bias: boolean) => ({ bias, std: c.initStd });
    this.q = this.addChild(new Linear(`${prefix}.q_proj`, c.dModel, qDim, o(c.qkvBias)));
    this.k = this.addChild(new Linear(`${prefix}.k_proj`, c.dModel, kvDim, o(c.qkvBias)));
    this.v = this.addChild(new Linear(`${prefix}.v_proj`, c.dModel, kvDim, o(c.qkvBias)));
    this.o = this.addChild(new Linear(`${prefix}.o_proj`, qDim, c.dModel, o(c.oBias)));
  }
  forward(x: Tensor, rope: RopeTables, past: KvPair | undefined, keep: Tensor | undefined) {
    const q = applyRope(splitHeads(this.q.forward(x), this.c.nHeads), rope); // (B, H, T, hd)
    const k = applyRope(splitHeads(this.k.forward(x), this.c.nKvHeads), rope); // (B, Hkv, T, hd)
    const v = splitHeads(this.v.forward(x), this.c.nKvHeads); // (B, Hkv, T, hd)
    // Keys are cached after rotation, as transformers does: a cached key never needs its position again.
    const key = past ? concat([past.key, k], 2) : k; // (B, Hkv, S, hd)
    const value = past ? concat([past.value, v], 2) : v;
    const { out, probs } = attention(q, key, value, { causal: true, keep });
    return { y: this.o.forward(mergeHeads(out)), probs, present: { key, value } };
  }
}

class LlamaBlock extends Module {
  readonly inputNorm: RMSNorm;
  readonly attn: LlamaAttention;
  readonly postAttnNorm: RMSNorm;
  readonly mlp: SwiGluMlp;
  constructor(
    prefix: string,
    private readonly c: LlamaConfig,
    private readonly index: number,
  ) {
    super(prefix);
    this.inputNorm = this.addChild(new RMSNorm(`${prefix}.input_layernorm`, c.dModel, c.rmsNormEps));
    this.attn = this.addChild(new LlamaAttention(`${prefix}.self_attn`, c));
    this.postAttnNorm = this.addChild(new RMSNorm(`${prefix}.post_attention_layernorm`, c.dModel, c.rmsNormEps));
    this.mlp = this.addChild(new SwiGluMlp(`${prefix}.mlp`, c.dModel, c.mlpHidden, c.initStd));
  }
  forward(x: Tensor, rope: RopeTables, past: KvPair | undefined, keep: Tensor | undefined, train: boolean) {
    const a = this.attn.forward(this.inputNorm.forward(x), rope, past, keep);
    const p = train ? this.c.dropout : 0;
    const h = add(x, dropout(a.y, p, `layers${this.index}.attn`)); // (B, T, C)
    const out = add(h, dropout(this.mlp.forward(this.postAttnNorm.forward(h)), p, `layers${this.index}.mlp`));
    return { out, probs: a.probs, present: a.present };
  }
}

export class Llama extends Module {
  readonly config: LlamaConfig;
  readonly embed: Embedding;
  readonly layers: LlamaBlock[];
  readonly norm: RMSNorm;
  readonly lmHead?: Linear;
  private readonly invFreq: Float32Array;
  /** cos/sin for every position, built on first use by position ids and shared by every trace. */
  private table?: RopeTables;

  constructor(config: LlamaConfigInput) {
    super('');
    const c = (this.config = llamaConfigSchema.parse(config));
    this.embed = this.addChild(new Embedding('model.embed_tokens', c.vocabSize, c.dModel, c.initStd));
    this.layers = Array.from({ length: c.nLayers }, (_, i) => this.addChild(new LlamaBlock(`model.layers.${i}`, c, i)));
    this.norm = this.addChild(new RMSNorm('model.norm', c.dModel, c.rmsNormEps));
    if (!c.tieWordEmbeddings)
      this.lmHead = this.addChild(new Linear('lm_head', c.dModel, c.vocabSize, { bias: false, std: c.initStd }));
    this.invFreq = ropeInvFreq(c.headDim, c.ropeTheta, c.ropeScaling);
  }

  /** cos/sin for this call: constants for offset..offset+T-1, or rows of the full table picked by positionIds. */
  private rope(t: number, offset: number, positionIds?: Tensor): RopeTables {
    if (!positionIds)
      return ropeTables(
        this.invFreq,
        Array.from({ length: t }, (_, i) => i + offset),
      );
    this.table ??= ropeTables(
      this.invFreq,
      Array.from({ length: this.config.maxPositions }, (_, i) => i),
    );
    return gatherRope(this.table, positionIds);
  }

  /** ids (B, T) int64 → logits (B, T, V), with per-layer hidden states, attention maps and present keys/values. */
  forward(ids: Tensor, o: ForwardOptions = {}): DecoderOutput {
    const [b, t] = ids.shape as [number, number];
    const c = this.config;
    const past = o.past;
    if (past && past.length !== c.nLayers)
      throw new Error(`Llama: past holds ${past.length} layers of keys/values, the model has ${c.nLayers}`);
    const offset = past?.[0]?.key.shape[2] ?? 0;
    if (c.slidingWindow !== undefined && offset + t > c.slidingWindow) {
      throw new Error(
        `Llama (${c.dialect}): ${offset + t} positions exceed the sliding window of ${c.slidingWindow}; ` +
          'sliding-window attention is not implemented, so results would differ from the original model. Use shorter sequences',
      );
    }
    const rope = this.rope(t, offset, o.positionIds);
    let x = dropout(this.embed.forward(ids), o.train ? c.dropout : 0, 'embd'); // (B, T, C)
    const hidden: Tensor[] = [x];
    const attentions: Tensor[] = [];
    const present: KvPair[] = [];
    this.layers.forEach((layer, i) => {
      const r = layer.forward(x, rope, past?.[i], o.keep, o.train ?? false);
      x = r.out;
      hidden.push(x);
      attentions.push(r.probs);
      present.push(r.present);
    });
    const final = this.norm.forward(x); // (B, T, C)
    const logits = this.lmHead
      ? this.lmHead.forward(final)
      : reshape(matmul(reshape(final, [-1, c.dModel]), this.embed.weight, { transB: true }), [b, t, c.vocabSize]); // (B, T, V)
    const head: LmHead = this.lmHead
      ? { weight: this.lmHead.weight, bias: this.lmHead.bias, layout: this.lmHead.layout }
      : { weight: this.embed.weight, layout: 'out_in' };
    return { logits, hidden, attentions, present, final, head };
  }
}
