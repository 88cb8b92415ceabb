// Several teachers as one: the weighted mixture of their next-token distributions,
//   p(x) = Σ_i w_i · p_i(x),   Σ w_i = 1,
// over one shared vocabulary. Dense logits come back as log p (a valid logits tensor: softmax of
// it is p). Top-k comes from the dense mixture when every member gives logits; otherwise from the
// union of the members' top-k lists, where a token missing from a member's list counts 0 for that
// member (its true probability is at most that member's k-th), so the mixture's top-k
// log-probs are lower bounds there. Hidden states and attentions are not mixed (their spaces
// differ between members); distil those from one member directly.
import { createHash } from 'node:crypto';
import { hostTensor, type HostTensor } from '../runtime/index.ts';
import {
  checkRequest,
  TeacherError,
  type ScoreRequest,
  type ScoreResult,
  type Teacher,
  type TeacherInfo,
} from './teacher.ts';

export interface EnsembleMember {
  teacher: Teacher;
  /** Mixture weight (default 1); weights are normalized to sum to 1. */
  weight?: number;
}

function logSumExp(xs: number[]): number {
  const m = Math.max(...xs);
  if (m === -Infinity) return -Infinity;
  return m + Math.log(xs.reduce((s, x) => s + Math.exp(x - m), 0));
}

/** Row-wise log-softmax of (…, V) logits. */
function logSoftmaxRows(t: HostTensor): Float64Array {
  const v = t.shape.at(-1)!;
  const x = t.data as Float32Array;
  const out = new Float64Array(x.length);
  for (let r = 0; r < x.length / v; r++) {
    const row = Array.from(x.subarray(r * v, (r + 1) * v));
    const z = logSumExp(row);
    for (let j = 0; j < v; j++) out[r * v + j] = row[j]! - z;
  }
  return out;
}

export class EnsembleTeacher implements Teacher {
  readonly kind = 'ensemble';
  readonly fingerprint: string;
  readonly info: TeacherInfo;
  readonly capabilities;
  readonly tokenizer;
  private readonly weights: number[];

  constructor(
    readonly name: string,
    readonly members: readonly EnsembleMember[],
  ) {
    if (members.length === 0) throw new TeacherError(`ensemble '${name}': give at least one member`);
    const V = members[0]!.teacher.info.vocabSize;
    const odd = members.find((m) => m.teacher.info.vocabSize !== V);
    if (odd)
      throw new TeacherError(
        `ensemble '${name}': member '${odd.teacher.name}' has vocabulary ${odd.teacher.info.vocabSize}, '${members[0]!.teacher.name}' has ${V}; members must share one vocabulary (align them first)`,
      );
    const w = members.map((m) => m.weight ?? 1);
    if (w.some((x) => !(x > 0) || !Number.isFinite(x)))
      throw new TeacherError(`ensemble '${name}': weights must be positive numbers, got ${w.join(', ')}`);
    const total = w.reduce((a, b) => a + b, 0);
    this.weights = w.map((x) => x / total);
    this.info = { vocabSize: V };
    this.tokenizer = members[0]!.teacher.tokenizer;
    const all = (k: 'logits' | 'topK') => members.every((m) => m.teacher.capabilities[k]);
    this.capabilities = {
      logits: all('logits'),
      topK: members.every((m) => m.teacher.capabilities.topK || m.teacher.capabilities.logits),
      hidden: false,
      attentions: false,
    };
    this.fingerprint = createHash('sha256')
      .update(JSON.stringify(members.map((m, i) => [m.teacher.fingerprint, this.weights[i]])))
      .digest('hex')
      .slice(0, 32);
  }

  async score(req: ScoreRequest): Promise<ScoreResult> {
    checkRequest(this, req);
    const k = req.topK;
    if (k !== undefined && (!Number.isInteger(k) || k < 1 || k > this.info.vocabSize))
      throw new TeacherError(
        `ensemble '${this.name}': topK must be an integer in [1, ${this.info.vocabSize}], got ${k}`,
      );
    const dense = !!req.logits || this.capabilities.logits;
    const outs = await Promise.all(
      this.members.map((m) => m.teacher.score(dense ? { ids: req.ids, logits: true } : { ids: req.ids, topK: k })),
    );
    const res: ScoreResult = {};
    if (dense) {
      const mixed = this.mixDense(outs.map((o) => o.logits!));
      if (req.logits) res.logits = mixed;
      if (k !== undefined) res.topk = topkOf(mixed, k);
    } else if (k !== undefined) res.topk = this.mixTopk(outs, k);
    return res;
  }

  /** log Σ_i w_i softmax(z_i), per row: (…, V). */
  private mixDense(logits: HostTensor[]): HostTensor {
    const shape = logits[0]!.shape;
    const lps = logits.map(logSoftmaxRows);
    const out = new Float32Array(lps[0]!.length);
    const lw = this.weights.map(Math.log);
    for (let i = 0; i < out.length; i++) out[i] = logSumExp(lps.map((lp, m) => lw[m]! + lp[i]!));
    return hostTensor('float32', shape, out);
  }

  /** Union of the members' top-k lists per position, mixed with absent entries as 0. */
  private mixTopk(outs: ScoreResult[], k: number): NonNullable<ScoreResult['topk']> {
    const shape = outs[0]!.topk!.ids.shape;
    const positions = shape.slice(0, -1).reduce((a, b) => a * b, 1);
    const ids = new BigInt64Array(positions * k),
      lps = new Float32Array(positions * k);
    for (let p = 0; p < positions; p++) {
      const mass = new Map<number, number>();
      outs.forEach((o, m) => {
        const kk = o.topk!.ids.shape.at(-1)!;
        for (let j = 0; j < kk; j++) {
          const id = Number(o.topk!.ids.data[p * kk + j]);
          mass.set(id, (mass.get(id) ?? 0) + this.weights[m]! * Math.exp(Number(o.topk!.logprobs.data[p * kk + j])));
        }
      });
      const best = [...mass].sort((a, b) => b[1] - a[1] || a[0] - b[0]).slice(0, k);
      // Fewer than k distinct candidates: pad with unused ids at a log-prob whose exp is 0 in float32.
      for (let id = 0; best.length < k; id++) if (!mass.has(id)) best.push([id, 0]);
      best.forEach(([id, pr], j) => {
        ids[p * k + j] = BigInt(id);
        lps[p * k + j] = pr > 0 ? Math.log(pr) : -1e4;
      });
    }
    return {
      ids: hostTensor('int64', [...shape.slice(0, -1), k], ids),
      logprobs: hostTensor('float32', [...shape.slice(0, -1), k], lps),
    };
  }
}

function topkOf(logp: HostTensor, k: number): NonNullable<ScoreResult['topk']> {
  const v = logp.shape.at(-1)!;
  const x = logp.data as Float32Array;
  const rows = x.length / v;
  const ids = new BigInt64Array(rows * k),
    lps = new Float32Array(rows * k);
  for (let r = 0; r < rows; r++) {
    const row = x.subarray(r * v, (r + 1) * v);
    const order = Array.from(row.keys())
      .sort((a, b) => row[b]! - row[a]! || a - b)
      .slice(0, k);
    order.forEach((id, j) => {
      ids[r * k + j] = BigInt(id);
      lps[r * k + j] = row[id]!;
    });
  }
  const shape = [...logp.shape.slice(0, -1), k];
  return { ids: hostTensor('int64', shape, ids), logprobs: hostTensor('float32', shape, lps) };
}
