// Distilling a sequence classifier: logit KD on the class logits (Hinton et al. 2015) from one or
// more classifier teachers, each traced into the same training graph with frozen weights under the
// prefix `teacher.{name}.`, the hard labels mixed in by each term's alpha. Without teachers it is
// plain cross-entropy on the labels (the baseline). The result is the part of the Trainer's options
// that says what is trained and on what loss; data, schedule and checkpoints are the caller's.
import { crossEntropy, withParamPrefix, type Tensor } from '../../graph/index.ts';
import { SequenceClassifier, type ClassifierOutput } from '../../models/classifier/index.ts';
import { ParamStore } from '../../runtime/index.ts';
import {
  combineLosses,
  createLogitKd,
  logitKdSchema,
  lossWeightInputs,
  scheduleAt,
  type WeightSchedule,
} from '../losses/index.ts';
import type { TrainerOptions } from '../trainer/index.ts';

export interface ClassifierTeacher {
  name: string;
  model: SequenceClassifier;
  params: ParamStore;
}

export interface ClassifierTerm {
  name: string;
  /** A logit-KD config: {kind: 'logits', alpha, temperature, divergence, ...}. */
  loss: unknown;
  /** The teacher this term reads; default every teacher, one term each (`{name}.{teacher}`). */
  teacher?: string;
  weight?: WeightSchedule;
}

export interface ClassifierRun {
  student: ClassifierOutput;
  teachers: Record<string, ClassifierOutput>;
}

export type ClassifierTrainerParts = Pick<
  TrainerOptions<ClassifierRun>,
  'model' | 'loss' | 'predictions' | 'lossWeights' | 'params' | 'trainable' | 'saveParam'
>;

const PREFIX = 'teacher.';
export const classifierTeacherPrefix = (name: string): string => `${PREFIX}${name}.`;

/**
 * Trainer parts for a classifier student: KD terms against the teachers, or, with no teachers,
 * cross-entropy on the labels (one term `ce`). `studentParams` are the student's starting values.
 */
export function classifierObjective(o: {
  student: SequenceClassifier;
  studentParams: ParamStore;
  teachers?: readonly ClassifierTeacher[];
  terms?: readonly ClassifierTerm[];
}): ClassifierTrainerParts {
  const teachers = o.teachers ?? [];
  const numLabels = o.student.config.numLabels;
  for (const t of teachers) {
    if (t.model.config.numLabels !== numLabels) {
      throw new Error(
        `classifier KD: teacher '${t.name}' has ${t.model.config.numLabels} labels, the student ${numLabels}; both must classify into the same labels`,
      );
    }
  }
  const terms =
    teachers.length === 0 ? [] : expandTerms(o.terms ?? [{ name: 'kd', loss: { kind: 'logits' } }], teachers);
  const params = new ParamStore();
  for (const [k, v] of o.studentParams.values) params.set(k, v);
  for (const t of teachers) for (const [k, v] of t.params.values) params.set(classifierTeacherPrefix(t.name) + k, v);
  const frozen = (n: string) => n.startsWith(PREFIX);
  const weights = (step: number) =>
    teachers.length === 0 ? { ce: 1 } : Object.fromEntries(terms.map((t) => [t.name, scheduleAt(t.weight ?? 1, step)]));

  return {
    model: (inputs, { train }) => ({
      student: o.student.forward(inputs.input_ids!, { mask: inputs.attention_mask, train }),
      teachers: Object.fromEntries(
        teachers.map((t) => [
          t.name,
          withParamPrefix(classifierTeacherPrefix(t.name), () => new SequenceClassifier(t.model.config)).forward(
            inputs.input_ids!,
            { mask: inputs.attention_mask },
          ),
        ]),
      ),
    }),
    loss: (run, inputs) => {
      const labels = inputs.labels!; // (B)
      if (teachers.length === 0) {
        const ce = crossEntropy(run.student.logits, labels);
        return { total: combineLosses({ ce }, lossWeightInputs(['ce'])).total, terms: { ce } };
      }
      const values: Record<string, Tensor> = {},
        parts: Record<string, Tensor> = {};
      for (const t of terms) {
        const r = t.kd.forward({
          student: { logits: run.student.logits },
          teacher: { logits: run.teachers[t.teacher]!.logits },
          labels,
        });
        values[t.name] = r.loss;
        for (const [k, v] of Object.entries(r.parts)) parts[`${t.name}/${k}`] = v;
      }
      return {
        total: combineLosses(values, lossWeightInputs(Object.keys(values))).total,
        terms: { ...values, ...parts },
      };
    },
    predictions: (run, inputs) => ({ logits: run.student.logits, labels: inputs.labels! }),
    lossWeights: weights,
    params,
    trainable: (n) => !frozen(n),
    saveParam: (n) => !frozen(n),
  };
}

function expandTerms(terms: readonly ClassifierTerm[], teachers: readonly ClassifierTeacher[]) {
  const names = teachers.map((t) => t.name);
  return terms.flatMap((term) => {
    const parsed = logitKdSchema.safeParse(term.loss);
    if (!parsed.success) {
      const kind = (term.loss as { kind?: unknown } | undefined)?.kind;
      throw new Error(
        `classifier KD: term '${term.name}' has loss kind ${JSON.stringify(kind)}; a classifier has class logits only, so use {kind: 'logits', alpha, temperature, divergence}`,
      );
    }
    if (term.teacher !== undefined && !names.includes(term.teacher)) {
      throw new Error(
        `classifier KD: term '${term.name}' names teacher '${term.teacher}', which is not one of ${names.join(', ')}`,
      );
    }
    const reads = term.teacher !== undefined ? [term.teacher] : names;
    return reads.map((teacher) => ({
      name: reads.length > 1 ? `${term.name}.${teacher}` : term.name,
      teacher,
      weight: term.weight,
      kd: createLogitKd(parsed.data),
    }));
  });
}
