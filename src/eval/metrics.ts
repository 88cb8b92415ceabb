// The figures evaluation reports, computed on the host in float64 from the models' logits, so that
// a model with known logits gives known numbers (all-zero logits: perplexity = vocabulary size).
//   perplexity  exp(mean over labelled positions of −log softmax(z)[label])     (labels ≠ ignoreIndex)
//   accuracy    share of labelled positions whose first highest logit is the label
//   macro-F1    mean over classes of 2·TP / (2·TP + FP + FN), classes absent from labels and predictions skipped
//   agreement   top-1 match rate with the teacher, and mean KL(p_teacher ‖ p_student) per position
//               (Hinton et al. 2015's soft targets at temperature 1), over the same labelled positions

export { argmaxRow, klRow, logSoftmaxRow } from '../runtime/host-math.ts';
import { argmaxRow, klRow, logSoftmaxRow } from '../runtime/host-math.ts';

/** Nearest-rank percentile (p in [0, 100]) of unsorted values. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

/** Sums, over batches, what perplexity, accuracy and macro-F1 need. */
export class QualityAccumulator {
  private nll = 0;
  private correct = 0;
  private count = 0;
  /** confusion[label][prediction], classifiers only. */
  private readonly confusion?: number[][];
  private readonly row: Float64Array;

  constructor(
    readonly classes: number,
    o: { confusion?: boolean } = {},
  ) {
    this.row = new Float64Array(classes);
    if (o.confusion) this.confusion = Array.from({ length: classes }, () => new Array<number>(classes).fill(0));
  }

  /** logits (N·C) row-major, labels (N); positions labelled `ignoreIndex` are skipped. */
  add(logits: ArrayLike<number>, labels: ArrayLike<number | bigint>, ignoreIndex = -100): void {
    const c = this.classes;
    const n = labels.length;
    if (logits.length !== n * c)
      throw new Error(`eval: ${logits.length} logits for ${n} labels of ${c} classes; expected ${n * c}`);
    for (let r = 0; r < n; r++) {
      const y = Number(labels[r]);
      if (y === ignoreIndex) continue;
      if (!Number.isInteger(y) || y < 0 || y >= c)
        throw new RangeError(
          `eval: label ${y} at position ${r} is outside [0, ${c}); is the data tokenized for this model?`,
        );
      logSoftmaxRow(logits, r * c, c, this.row);
      this.nll -= this.row[y]!;
      const pred = argmaxRow(logits, r * c, c);
      if (pred === y) this.correct++;
      if (this.confusion) this.confusion[y]![pred]!++;
      this.count++;
    }
  }

  get items(): number {
    return this.count;
  }

  /** Mean negative log-likelihood per labelled position (nats). */
  meanNll(): number {
    return this.count ? this.nll / this.count : NaN;
  }

  perplexity(): number {
    return Math.exp(this.meanNll());
  }

  accuracy(): number {
    return this.count ? this.correct / this.count : NaN;
  }

  /** Unweighted mean of per-class F1 over the classes that occur in the labels or the predictions. */
  macroF1(): number {
    const m = this.confusion;
    if (!m) throw new Error('eval: macroF1 needs a QualityAccumulator made with { confusion: true }');
    const f1s: number[] = [];
    for (let k = 0; k < this.classes; k++) {
      const tp = m[k]![k]!;
      let fp = 0,
        fn = 0;
      for (let j = 0; j < this.classes; j++) {
        if (j === k) continue;
        fn += m[k]![j]!;
        fp += m[j]![k]!;
      }
      if (tp + fp + fn > 0) f1s.push((2 * tp) / (2 * tp + fp + fn));
    }
    return f1s.length ? f1s.reduce((a, b) => a + b, 0) / f1s.length : NaN;
  }
}

/** Sums top-1 matches and KL(teacher ‖ student) over labelled positions. */
export class AgreementAccumulator {
  private matches = 0;
  private kl = 0;
  private count = 0;
  private readonly t: Float64Array;
  private readonly s: Float64Array;
  private readonly teacherWidth: number;
  private readonly studentWidth: number;

  /**
   * Compares the first `classes` logits of each row. The rows themselves may be wider, and of two
   * widths (`widths`): embedding tables padded past one tokenizer's vocabulary, whose pad rows are
   * no tokens (distill/losses/vocab.ts cuts KD's logits the same way).
   */
  constructor(
    readonly classes: number,
    widths: { teacher: number; student: number } = { teacher: classes, student: classes },
  ) {
    if (widths.teacher < classes || widths.student < classes)
      throw new Error(
        `eval: agreement over ${classes} classes needs rows at least that wide, got teacher ${widths.teacher}, student ${widths.student}`,
      );
    this.teacherWidth = widths.teacher;
    this.studentWidth = widths.student;
    this.t = new Float64Array(classes);
    this.s = new Float64Array(classes);
  }

  /** Teacher (N·Vt) and student (N·Vs) row-major; labels (N) only mark which positions count (ignoreIndex: skipped). */
  add(
    teacher: ArrayLike<number>,
    student: ArrayLike<number>,
    labels: ArrayLike<number | bigint>,
    ignoreIndex = -100,
  ): void {
    const c = this.classes,
      vt = this.teacherWidth,
      vs = this.studentWidth;
    if (teacher.length !== labels.length * vt || student.length !== labels.length * vs)
      throw new Error(
        `eval: teacher gave ${teacher.length} logits and student ${student.length} for ${labels.length} positions; agreement expects ${vt} and ${vs} per position`,
      );
    for (let r = 0; r < labels.length; r++) {
      if (Number(labels[r]) === ignoreIndex) continue;
      if (argmaxRow(teacher, r * vt, c) === argmaxRow(student, r * vs, c)) this.matches++;
      logSoftmaxRow(teacher, r * vt, c, this.t);
      logSoftmaxRow(student, r * vs, c, this.s);
      this.kl += klRow(this.t, this.s, c);
      this.count++;
    }
  }

  get items(): number {
    return this.count;
  }

  top1(): number {
    return this.count ? this.matches / this.count : NaN;
  }

  meanKl(): number {
    return this.count ? this.kl / this.count : NaN;
  }
}
