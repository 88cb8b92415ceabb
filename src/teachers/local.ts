// A Retort model as a teacher: its forward pass compiled once per request shape, weights fed
// from its ParamStore (no copies), top-k log-probs computed inside the graph with TopK.
import { createHash } from 'node:crypto';
import * as g from '../graph/index.ts';
import type { Tokenizer } from '../models/tokenizers/tokenizer.ts';
import type { DecoderModel } from '../models/types.ts';
import { defaultExecutor, type Executor, type HostTensor, type ParamStore, type Program } from '../runtime/index.ts';
import { checkRequest, TeacherError, type ScoreRequest, type ScoreResult, type Teacher } from './teacher.ts';

/** sha256 over the config and every parameter's name and bytes, in name order. */
export function fingerprintWeights(config: unknown, params: ParamStore): string {
  const h = createHash('sha256').update(JSON.stringify(config));
  for (const name of [...params.values.keys()].sort()) {
    const v = params.values.get(name)!;
    h.update(name).update(new Uint8Array(v.data.buffer, v.data.byteOffset, v.data.byteLength));
  }
  return h.digest('hex').slice(0, 32);
}

export class LocalTeacher implements Teacher {
  readonly kind = 'retort';
  readonly capabilities = { logits: true, topK: true, hidden: true, attentions: true };
  readonly fingerprint: string;
  readonly info;
  readonly local;
  private readonly programs = new Map<string, Promise<Program>>();

  constructor(
    readonly name: string,
    model: DecoderModel,
    params: ParamStore,
    readonly tokenizer?: Tokenizer,
    private readonly executor?: Executor,
  ) {
    for (const p of model.params.keys())
      if (!params.values.has(p)) throw new TeacherError(`teacher '${name}': parameter '${p}' has no value`);
    this.local = { model, params };
    this.info = {
      vocabSize: model.config.vocabSize,
      nLayers: model.config.nLayers,
      dModel: model.config.dModel,
      nHeads: model.config.nHeads,
    };
    this.fingerprint = fingerprintWeights(model.config, params);
    if (tokenizer)
      this.fingerprint += `:${createHash('sha256')
        .update(
          JSON.stringify([tokenizer.vocabSize, tokenizer.idToToken(0), tokenizer.idToToken(tokenizer.vocabSize - 1)]),
        )
        .digest('hex')
        .slice(0, 8)}`;
  }

  private program(req: ScoreRequest): Promise<Program> {
    const [b, t] = req.ids.shape as [number, number];
    const key = JSON.stringify([b, t, !!req.logits, req.topK ?? 0, req.hidden ?? [], req.attentions ?? []]);
    let p = this.programs.get(key);
    if (!p) {
      const { model } = this.local;
      const ids = g.input('input_ids', [b, t], 'int64');
      const out = model.forward(ids);
      const outputs: Record<string, g.Tensor> = {};
      if (req.logits) outputs.logits = out.logits;
      if (req.topK) {
        const top = g.topK(g.logSoftmax(out.logits, -1), req.topK);
        outputs['topk.logprobs'] = top.values;
        outputs['topk.ids'] = top.indices;
      }
      for (const i of req.hidden ?? []) {
        if (!out.hidden[i])
          throw new TeacherError(`teacher '${this.name}' has hidden states 0..${out.hidden.length - 1}, not ${i}`);
        outputs[`hidden.${i}`] = out.hidden[i]!;
      }
      for (const i of req.attentions ?? []) {
        if (!out.attentions[i])
          throw new TeacherError(
            `teacher '${this.name}' has attention layers 0..${out.attentions.length - 1}, not ${i}`,
          );
        outputs[`attn.${i}`] = out.attentions[i]!;
      }
      p = (async () =>
        (this.executor ?? (await defaultExecutor())).compile(outputs, { name: `teacher_${this.name}` }))();
      this.programs.set(key, p);
    }
    return p;
  }

  async score(req: ScoreRequest): Promise<ScoreResult> {
    checkRequest(this, req);
    const program = await this.program(req);
    const feeds: Record<string, HostTensor> = { input_ids: req.ids };
    for (const spec of program.inputs) if (spec.kind === 'param') feeds[spec.name] = this.local.params.get(spec.name);
    const out = await program.run(feeds);
    const res: ScoreResult = {};
    if (req.logits) res.logits = out.logits;
    if (req.topK) res.topk = { ids: out['topk.ids']!, logprobs: out['topk.logprobs']! };
    if (req.hidden) res.hidden = req.hidden.map((i) => out[`hidden.${i}`]!);
    if (req.attentions) res.attentions = req.attentions.map((i) => out[`attn.${i}`]!);
    return res;
  }
}
