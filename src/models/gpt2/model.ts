// GPT-2 (Radford et al. 2019) as nanoGPT writes it: pre-LN blocks, learned positions, fused
// qkv projection, tied LM head. Parameter names are Hugging Face's GPT2LMHeadModel names.
import { add, concat, constant, dropout, matmul, ndarray, reshape, split, type Tensor } from '../../graph/index.ts';
import { attention, Embedding, GeluMlp, LayerNorm, Linear, mergeHeads, Module, splitHeads } from '../../nn/index.ts';
import type { DecoderOutput, ForwardOptions, KvPair, LmHead } from '../types.ts';
import { gpt2ConfigSchema, type Gpt2Config, type Gpt2ConfigInput } from './config.ts';

class Gpt2Attention extends Module {
  readonly cAttn: Linear;
  readonly cProj: Linear;
  constructor(
    prefix: string,
    private readonly c: Gpt2Config,
  ) {
    super(prefix);
    this.cAttn = this.addChild(new Linear(`${prefix}.c_attn`, c.dModel, 3 * c.dModel, { layout: 'in_out' }));
    this.cProj = this.addChild(
      new Linear(`${prefix}.c_proj`, c.dModel, c.dModel, { layout: 'in_out', std: 0.02 / Math.sqrt(2 * c.nLayers) }),
    );
  }
  forward(x: Tensor, past?: KvPair, keep?: Tensor) {
    const [q, k, v] = split(this.cAttn.forward(x), -1, 3).map((t) => splitHeads(t, this.c.nHeads)) as [
      Tensor,
      Tensor,
      Tensor,
    ]; // (B, H, T, hs)
    const key = past ? concat([past.key, k], 2) : k; // (B, H, S, hs)
    const value = past ? concat([past.value, v], 2) : v;
    const { out, probs } = attention(q, key, value, { causal: true, keep });
    return { y: this.cProj.forward(mergeHeads(out)), probs, present: { key, value } };
  }
}

class Gpt2Block extends Module {
  readonly ln1: LayerNorm;
  readonly attn: Gpt2Attention;
  readonly ln2: LayerNorm;
  readonly mlp: GeluMlp;
  constructor(
    prefix: string,
    private readonly c: Gpt2Config,
    private readonly index: number,
  ) {
    super(prefix);
    this.ln1 = this.addChild(new LayerNorm(`${prefix}.ln_1`, c.dModel, c.layerNormEps));
    this.attn = this.addChild(new Gpt2Attention(`${prefix}.attn`, c));
    this.ln2 = this.addChild(new LayerNorm(`${prefix}.ln_2`, c.dModel, c.layerNormEps));
    this.mlp = this.addChild(
      new GeluMlp(`${prefix}.mlp`, c.dModel, Math.round(c.mlpRatio * c.dModel), c.gelu, {
        projStd: 0.02 / Math.sqrt(2 * c.nLayers),
      }),
    );
  }
  forward(x: Tensor, past: KvPair | undefined, train: boolean, keep?: Tensor) {
    const a = this.attn.forward(this.ln1.forward(x), past, keep);
    const p = train ? this.c.dropout : 0;
    const h = add(x, dropout(a.y, p, `h${this.index}.attn`));
    const out = add(h, dropout(this.mlp.forward(this.ln2.forward(h)), p, `h${this.index}.mlp`));
    return { out, probs: a.probs, present: a.present };
  }
}

export class Gpt2 extends Module {
  readonly config: Gpt2Config;
  readonly wte: Embedding;
  readonly wpe: Embedding;
  readonly blocks: Gpt2Block[];
  readonly lnF: LayerNorm;
  readonly lmHead?: Linear;

  constructor(config: Gpt2ConfigInput) {
    super('');
    const c = (this.config = gpt2ConfigSchema.parse(config));
    this.wte = this.addChild(new Embedding('transformer.wte', c.vocabSize, c.dModel));
    this.wpe = this.addChild(new Embedding('transformer.wpe', c.maxPositions, c.dModel, 0.01));
    this.blocks = Array.from({ length: c.nLayers }, (_, i) => this.addChild(new Gpt2Block(`transformer.h.${i}`, c, i)));
    this.lnF = this.addChild(new LayerNorm('transformer.ln_f', c.dModel, c.layerNormEps));
    if (!c.tieWordEmbeddings)
      this.lmHead = this.addChild(new Linear('lm_head', c.dModel, c.vocabSize, { bias: false }));
  }

  /** ids (B, T) int64 → logits (B, T, V), with per-layer hidden states and attention maps. */
  forward(ids: Tensor, o: ForwardOptions = {}): DecoderOutput {
    const [b, t] = ids.shape as [number, number];
    const past = o.past;
    const offset = past?.[0]?.key.shape[2] ?? 0;
    if (offset + t > this.config.maxPositions) {
      throw new Error(`GPT-2: ${offset + t} positions exceed the model's maxPositions ${this.config.maxPositions}`);
    }
    const positions =
      o.positionIds ??
      constant(
        ndarray(
          [t],
          'int64',
          Array.from({ length: t }, (_, i) => i + offset),
        ),
      );
    let x = add(this.wte.forward(ids), this.wpe.forward(positions)); // (B, T, C)
    x = dropout(x, o.train ? this.config.dropout : 0, 'embd');
    const hidden: Tensor[] = [x];
    const attentions: Tensor[] = [];
    const present: KvPair[] = [];
    this.blocks.forEach((blk, i) => {
      const r = blk.forward(x, past?.[i], o.train ?? false, o.keep);
      x = r.out;
      hidden.push(x);
      attentions.push(r.probs);
      present.push(r.present);
    });
    const final = this.lnF.forward(x);
    const logits = this.lmHead
      ? this.lmHead.forward(final)
      : reshape(matmul(reshape(final, [-1, this.config.dModel]), this.wte.weight, { transB: true }), [
          b,
          t,
          this.config.vocabSize,
        ]);
    const head: LmHead = this.lmHead
      ? { weight: this.lmHead.weight, bias: this.lmHead.bias, layout: this.lmHead.layout }
      : { weight: this.wte.weight, layout: 'out_in' };
    return { logits, hidden, attentions, present, final, head };
  }
}
