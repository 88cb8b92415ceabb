// Teacher and student vocabularies that differ only by padding. Embedding tables are often padded
// to a multiple of 64 for fast matmuls (GPT-2's 50257 real tokens in 50304 rows), so two models with
// one tokenizer can still emit logits of different widths. The pad rows are no tokens: both sides
// are cut to the real vocabulary before any softmax, so no probability mass lands on them.
//
// What this assumes: both models share one tokenizer, and ids [0, realVocab) mean the same tokens in
// both, the pad rows coming after them. It cannot align two different tokenizers.
import { slice, type Tensor } from '../../graph/index.ts';

/** The width both sides are cut to: `realVocab` when given, else the smaller of the two widths. */
export function commonVocab(studentVocab: number, teacherVocab: number | undefined, realVocab?: number): number {
  if (realVocab !== undefined) {
    const widest = Math.min(studentVocab, teacherVocab ?? studentVocab);
    if (realVocab > widest) {
      throw new Error(
        `vocabulary alignment: realVocab ${realVocab} exceeds the logits' width (student ${studentVocab}${teacherVocab === undefined ? '' : `, teacher ${teacherVocab}`}); set realVocab to the tokenizer's size`,
      );
    }
    return realVocab;
  }
  return Math.min(studentVocab, teacherVocab ?? studentVocab);
}

/** Cuts the last axis of both logits to the shared real vocabulary (a no-op when they agree). */
export function alignVocab(
  student: Tensor,
  teacher: Tensor,
  realVocab?: number,
): { student: Tensor; teacher: Tensor; vocab: number } {
  const v = commonVocab(student.shape[student.rank - 1]!, teacher.shape[teacher.rank - 1]!, realVocab);
  return { student: slice(student, -1, 0, v), teacher: slice(teacher, -1, 0, v), vocab: v };
}
