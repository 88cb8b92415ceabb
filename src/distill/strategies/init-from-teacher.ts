// Initialize the student from the teacher (DistilBERT, Sanh et al. 2019: "we initialize the student
// from the teacher by taking one layer out of two"). Embeddings, the final norm and the LM head are
// copied when their shapes allow (position tables may be cut to the student's length); each student
// block j takes teacher block layers[j] (default 0, 2, 4, ...), which needs equal widths.
import { z } from 'zod';
import type { DecoderModel } from '../../models/types.ts';
import { hostTensor, ParamStore } from '../../runtime/index.ts';
import type { DistillContext, StageInfo, StageReport } from './context.ts';
import { localTeacher } from './context.ts';
import { doc, nonNegInt, teacherName } from './fields.ts';
import { strategyRule } from './rule.ts';

export const initFromTeacherSchema = z
  .object({
    kind: z.literal('initFromTeacher'),
    teacher: doc(teacherName().optional(), 'The teacher to copy from (a Retort model); default the first one', 'big'),
    layers: doc(
      z.array(nonNegInt()).min(1).optional(),
      'Teacher block (0-based, as in parameter names) for each student block; default every other one: 0, 2, 4, ...',
      [0, 2, 4],
    ),
    embeddings: doc(z.boolean().default(true), 'Copy token (and position) embeddings', true),
    finalNorm: doc(z.boolean().default(true), 'Copy the final norm', true),
    head: doc(z.boolean().default(true), 'Copy an untied LM head', true),
  })
  .strict();
export type InitFromTeacherOptions = Omit<z.output<typeof initFromTeacherSchema>, 'kind' | 'teacher'>;

/** Block parameters: `{prefix}.{index}.{rest}` (GPT-2 transformer.h.i, Llama model.layers.i). */
const BLOCK = /^(.*?\.(?:h|layers))\.(\d+)\.(.+)$/;
/** Parameters outside the blocks, by what they are. */
const OUTSIDE = [
  { part: 'embeddings', test: /(^|\.)(wte|wpe|embed_tokens)\./ },
  { part: 'finalNorm', test: /(^|\.)(ln_f|norm)\.[^.]+$/ },
  { part: 'head', test: /^lm_head\./ },
] as const;
/** Position tables may be cut to the student's (shorter) context: their leading rows are positions 0..n−1. */
const POSITIONS = /(^|\.)wpe\./;

export interface InitReport {
  /** Teacher block of each student block. */
  layers: number[];
  /** [student parameter, teacher parameter] copied. */
  copied: [string, string][];
  /** Student parameters left to their fresh initialization, with why. */
  skipped: { name: string; reason: string }[];
}

/** The default layer map: every other teacher block when the teacher is deep enough, else spread evenly. */
export function defaultLayers(studentBlocks: number, teacherBlocks: number): number[] {
  if (studentBlocks > teacherBlocks) {
    throw new Error(
      `initFromTeacher: the student has ${studentBlocks} blocks and the teacher only ${teacherBlocks}; give layers (one teacher block per student block) explicitly`,
    );
  }
  if (2 * (studentBlocks - 1) < teacherBlocks) return Array.from({ length: studentBlocks }, (_, j) => 2 * j);
  return Array.from({ length: studentBlocks }, (_, j) =>
    studentBlocks === 1 ? 0 : Math.round((j * (teacherBlocks - 1)) / (studentBlocks - 1)),
  );
}

const same = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((d, i) => d === b[i]);

/** Copies of the teacher's values for the student's parameters, as far as the options and shapes allow. */
export function initFromTeacher(
  student: DecoderModel,
  teacher: { model: DecoderModel; params: ParamStore },
  o: Partial<InitFromTeacherOptions> = {},
): { params: ParamStore; report: InitReport } {
  const ds = student.config.dModel,
    dt = teacher.model.config.dModel;
  if (ds !== dt) {
    throw new Error(
      `initFromTeacher: the student is ${ds} wide (dModel) and the teacher ${dt}; copying layers needs equal widths (DistilBERT keeps the teacher's width and halves its depth). Make the student's dModel ${dt}, or leave out initFromTeacher`,
    );
  }
  const ls = student.config.nLayers,
    lt = teacher.model.config.nLayers;
  const layers = o.layers ?? defaultLayers(ls, lt);
  if (layers.length !== ls)
    throw new Error(
      `initFromTeacher: layers names ${layers.length} teacher blocks ([${layers.join(', ')}]) for a student of ${ls}; give exactly one per student block`,
    );
  const bad = layers.find((l) => l >= lt);
  if (bad !== undefined)
    throw new Error(`initFromTeacher: layers holds block ${bad}, but the teacher's blocks are 0..${lt - 1}`);

  const params = new ParamStore();
  const report: InitReport = { layers, copied: [], skipped: [] };
  const copy = (name: string, from: string, rows?: number) => {
    const v = teacher.params.get(from);
    const shape = rows === undefined ? v.shape : [rows, ...v.shape.slice(1)];
    const n = shape.reduce((a, b) => a * b, 1);
    params.set(name, hostTensor(v.dtype, shape, v.data.slice(0, n) as never));
    report.copied.push([name, from]);
  };
  for (const [name, p] of student.params) {
    const block = BLOCK.exec(name);
    if (block) {
      const from = `${block[1]}.${layers[Number(block[2])]}.${block[3]}`;
      const t = teacher.model.params.get(from);
      if (!t)
        throw new Error(
          `initFromTeacher: the teacher has no '${from}' for the student's '${name}'; are they of the same family?`,
        );
      if (!same(t.shape, p.shape)) {
        throw new Error(
          `initFromTeacher: '${name}' is [${p.shape.join(', ')}] in the student but '${from}' is [${t.shape.join(', ')}] in the teacher; blocks must match in everything but depth (heads, MLP width)`,
        );
      }
      copy(name, from);
      continue;
    }
    const part = OUTSIDE.find((x) => x.test.test(name))?.part;
    if (!part) {
      report.skipped.push({ name, reason: 'not an embedding, final norm or head' });
      continue;
    }
    if (o[part] === false) {
      report.skipped.push({ name, reason: `${part}: false` });
      continue;
    }
    const t = teacher.model.params.get(name);
    if (!t) {
      report.skipped.push({ name, reason: 'the teacher has no such parameter (a tied head?)' });
      continue;
    }
    if (same(t.shape, p.shape)) copy(name, name);
    else if (POSITIONS.test(name) && same(t.shape.slice(1), p.shape.slice(1)) && p.shape[0]! <= t.shape[0]!)
      copy(name, name, p.shape[0]);
    else
      report.skipped.push({ name, reason: `shape [${p.shape.join(', ')}] vs the teacher's [${t.shape.join(', ')}]` });
  }
  return { params, report };
}

export async function runInitFromTeacher(
  ctx: DistillContext,
  c: z.output<typeof initFromTeacherSchema>,
  stage: StageInfo,
): Promise<StageReport> {
  const entry = localTeacher(ctx, c.teacher, 'initFromTeacher');
  const { params, report } = initFromTeacher(ctx.student.model, entry.teacher.local, c);
  const merged = ctx.student.params ?? new ParamStore();
  for (const [k, v] of params.values) merged.set(k, v);
  ctx.student.params = merged;
  return { stage: stage.name, kind: 'initFromTeacher', details: { teacher: entry.name, ...report } };
}

export const initFromTeacherRule = strategyRule({
  schema: initFromTeacherSchema,
  cite: 'DistilBERT (Sanh et al. 2019): the student starts from the teacher, one layer out of two',
  role: 'prepare',
  run: runInitFromTeacher,
});
