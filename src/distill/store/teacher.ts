// A store served through the Teacher interface: score() finds each row of ids among the stored
// examples (by content) and returns what the teacher said then. Offline distillation is then
// the same code path as live distillation, with this in place of the live teacher. Compact stores
// also return each position's tail mass (topk.tail), and sampled stores say so (sparse.targets),
// so the loss builds its rest bucket from the stored tail and knows the entries are draws.
import { hostTensor, type HostTensor } from '../../runtime/index.ts';
import {
  checkRequest,
  TeacherError,
  type ScoreRequest,
  type ScoreResult,
  type SparseInfo,
  type Teacher,
} from '../../teachers/index.ts';
import { encodings, F16_MAX } from './codec.ts';
import type { StoreIdentity } from './format.ts';
import { checkIdentity, type StoreReader } from './store.ts';

const rowKey = (ids: ArrayLike<number | bigint>, start: number, n: number): string => {
  let s = '';
  for (let i = 0; i < n; i++) s += `${ids[start + i]},`;
  return s;
};

export class StoreTeacher implements Teacher {
  readonly kind = 'store' as const;
  readonly capabilities;
  readonly info;
  readonly fingerprint: string;
  readonly sparse: SparseInfo;
  private readonly index = new Map<string, number>();

  constructor(
    readonly name: string,
    private readonly reader: StoreReader,
    examples: readonly Int32Array[],
    identity?: StoreIdentity,
  ) {
    if (identity) checkIdentity(reader.dir, reader.manifest.identity, identity);
    const l = reader.layout;
    this.capabilities = { logits: false, topK: true, hidden: l.hidden.length > 0, attentions: false };
    this.info = { vocabSize: l.vocabSize, dModel: l.dModel || undefined };
    this.fingerprint = reader.manifest.identity.teacher;
    this.sparse = { targets: l.targets, tail: encodings[l.encoding].tail };
    if (examples.length < reader.count)
      throw new TeacherError(
        `store ${reader.dir} holds ${reader.count} examples but only ${examples.length} were given`,
      );
    for (let i = 0; i < reader.count; i++) this.index.set(rowKey(examples[i]!, 0, l.seq), i);
  }

  async score(req: ScoreRequest): Promise<ScoreResult> {
    checkRequest(this, req);
    const l = this.reader.layout;
    const [b, t] = req.ids.shape as [number, number];
    if (t !== l.seq) throw new TeacherError(`store '${this.name}' holds sequences of ${l.seq} tokens, not ${t}`);
    const k = req.topK ?? l.topK;
    if (l.targets === 'sampled' && k !== l.topK)
      throw new TeacherError(
        `store '${this.name}' holds sampled targets, ${l.topK} slots per position (layout.topK); a term reading it asks for ${k}: set the term's topK to ${l.topK} (fewer would drop drawn tokens and bias the estimate)`,
      );
    if (k > l.topK)
      throw new TeacherError(
        `store '${this.name}' keeps the top ${l.topK} tokens per position (layout.topK); ${k} were asked for: set the term's topK to at most ${l.topK}, or label again with topK ${k}`,
      );
    for (const h of req.hidden ?? [])
      if (!l.hidden.includes(h))
        throw new TeacherError(
          `store '${this.name}' holds hidden states ${JSON.stringify(l.hidden)}, not ${h}; label again with it`,
        );
    const ids = new BigInt64Array(b * t * k);
    const lps = new Float32Array(b * t * k);
    const tails = this.sparse.tail ? new Float32Array(b * t) : undefined;
    const hidden = (req.hidden ?? []).map(() => new Float32Array(b * t * l.dModel));
    for (let row = 0; row < b; row++) {
      const i = this.index.get(rowKey(req.ids.data as BigInt64Array, row * t, t));
      if (i === undefined)
        throw new TeacherError(
          `store '${this.name}': batch row ${row} is not one of the labelled examples; label the dataset first (or check that the same data and seed are used)`,
        );
      const rec = this.reader.get(i);
      for (let p = 0; p < t; p++) {
        for (let j = 0; j < k; j++) {
          ids[(row * t + p) * k + j] = BigInt(rec.ids[p * l.topK + j]!);
          lps[(row * t + p) * k + j] = rec.logprobs[p * l.topK + j]!;
        }
        // Entries past k join the tail: log(exp(tail) + Σ_{j ≥ k} exp(logprob_j)).
        if (tails) {
          let rest = Math.exp(rec.tail![p]!);
          for (let j = k; j < l.topK; j++) rest += Math.exp(rec.logprobs[p * l.topK + j]!);
          tails[row * t + p] = rest > 0 ? Math.log(rest) : -F16_MAX; // finite, as stored: exp gives 0
        }
      }
      (req.hidden ?? []).forEach((h, n) => hidden[n]!.set(rec.hidden[l.hidden.indexOf(h)]!, row * t * l.dModel));
    }
    const res: ScoreResult = {
      topk: {
        ids: hostTensor('int64', [b, t, k], ids),
        logprobs: hostTensor('float32', [b, t, k], lps),
        ...(tails ? { tail: hostTensor('float32', [b, t, 1], tails) } : {}),
      },
    };
    if (req.hidden) res.hidden = hidden.map((h) => hostTensor('float32', [b, t, l.dModel], h) as HostTensor);
    return res;
  }
}
