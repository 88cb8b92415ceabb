// How closely a student follows a teacher on held-out batches: the mean over positions of
// KL(p_teacher ‖ p_student) of the next-token distributions, and how often their most likely
// tokens agree. Computed on the host in float64 from both models' logits.
import { input } from '../../graph/index.ts';
import type { DecoderModel } from '../../models/types.ts';
import type { Executor, HostTensor, ParamStore } from '../../runtime/index.ts';
import { logSoftmaxRow } from '../../runtime/host-math.ts';
import type { Teacher } from '../../teachers/index.ts';
import type { Batch } from '../trainer/index.ts';
import { feedParams } from './on-policy.ts';

export interface Agreement {
  /** Mean KL(p_teacher ‖ p_student) per position, in nats. */
  kl: number;
  /** Fraction of positions where the argmaxes agree. */
  top1: number;
  positions: number;
}

const argmax = (x: Float64Array): number => x.reduce((best, v, i, a) => (v > a[best]! ? i : best), 0);

export async function teacherAgreement(
  student: DecoderModel,
  params: ParamStore,
  teacher: Teacher,
  batches: Iterable<Batch>,
  executor: Executor,
): Promise<Agreement> {
  let kl = 0,
    agree = 0,
    n = 0;
  const programs = new Map<string, Awaited<ReturnType<Executor['compile']>>>();
  for (const batch of batches) {
    const ids = batch.input_ids as HostTensor;
    const [b, t] = ids.shape as [number, number];
    const key = `${b}x${t}`;
    let program = programs.get(key);
    if (!program)
      programs.set(
        key,
        (program = await feedParams(executor).compile(
          { logits: student.forward(input('input_ids', [b, t], 'int64')).logits },
          { name: 'agreement' },
        )),
      );
    const feeds: Record<string, HostTensor> = { input_ids: ids };
    for (const spec of program.inputs) if (spec.kind === 'param') feeds[spec.name] = params.get(spec.name);
    const s = (await program.run(feeds)).logits!.data as Float32Array;
    const tl = (await teacher.score({ ids, logits: true })).logits!.data as Float32Array;
    const v = student.config.vocabSize;
    const ls = new Float64Array(v),
      lt = new Float64Array(v);
    for (let p = 0; p < b * t; p++) {
      logSoftmaxRow(s, p * v, v, ls);
      logSoftmaxRow(tl, p * v, v, lt);
      let d = 0;
      for (let i = 0; i < v; i++) d += Math.exp(lt[i]!) * (lt[i]! - ls[i]!);
      kl += d;
      if (argmax(ls) === argmax(lt)) agree++;
      n++;
    }
  }
  return { kl: kl / n, top1: agree / n, positions: n };
}
