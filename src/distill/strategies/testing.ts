// Tiny but real distillation runs for tests: character-level State of the Union text (addresses up
// to 1800 to train on, 1801-1805 held out), a 2-layer 32-wide GPT-2 teacher and a 1-layer 16-wide
// student, 32-token rows.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadSotu } from '../../data/sotu.ts';
import { Gpt2 } from '../../models/gpt2/model.ts';
import { CharTokenizer } from '../../models/tokenizers/char-tokenizer.ts';
import { defaultAdamW } from '../../optim/index.ts';
import { defaultExecutor, ParamStore, type Executor } from '../../runtime/index.ts';
import { LocalTeacher } from '../../teachers/index.ts';
import {
  createDistillContext,
  type DistillContext,
  type DistillContextOptions,
  type LmCorpus,
  type RunSettings,
  type TeacherEntry,
} from './context.ts';
import { runDistill, type DistillConfigInput } from './pipeline.ts';

export const SEQ = 32;
export const BATCH = 4;

let corpus: LmCorpus | undefined;
export function tinyText(): LmCorpus & { tokenizer: CharTokenizer } {
  if (!corpus) {
    const sotu = loadSotu();
    const train = sotu
      .filter((s) => s.year <= 1800)
      .map((s) => s.text)
      .join('\n\n');
    const validation = sotu
      .filter((s) => s.year > 1800 && s.year <= 1805)
      .map((s) => s.text)
      .join('\n\n');
    const tokenizer = CharTokenizer.fromCorpus([train, validation]);
    corpus = {
      train: Int32Array.from(tokenizer.encode(train)),
      validation: Int32Array.from(tokenizer.encode(validation)),
      tokenizer,
    };
  }
  return corpus as LmCorpus & { tokenizer: CharTokenizer };
}

export const teacherConfig = () => ({
  vocabSize: tinyText().tokenizer.vocabSize,
  maxPositions: SEQ,
  dModel: 32,
  nLayers: 2,
  nHeads: 4,
});
export const studentConfig = () => ({
  vocabSize: tinyText().tokenizer.vocabSize,
  maxPositions: SEQ,
  dModel: 16,
  nLayers: 1,
  nHeads: 2,
});

let executor: Promise<Executor> | undefined;
/** One executor per test file: runs of the same shapes share compiled sessions. */
export const sharedExecutor = (): Promise<Executor> => (executor ??= defaultExecutor());

/** A teacher with random weights scaled up, so its distributions are far from uniform (and from the data's). */
export function randomTeacher(name: string, seed: number): LocalTeacher {
  const model = new Gpt2(teacherConfig());
  const params = ParamStore.init(model.params.values(), seed);
  for (const v of params.values.values())
    if (v.shape.length === 2) (v.data as Float32Array).forEach((x, i, a) => (a[i] = x * 6));
  return new LocalTeacher(name, model, params, tinyText().tokenizer);
}

export function teacherEntry(t: LocalTeacher, mode: 'in-graph' | 'fed' = 'in-graph'): TeacherEntry {
  return { name: t.name, teacher: t, mode, rebuild: () => new Gpt2(teacherConfig()) };
}

export function tinySettings(
  dir: string,
  steps: number,
  over: Partial<RunSettings> = {},
): Omit<RunSettings, 'executor'> & { executor?: Executor } {
  return {
    dir,
    steps,
    batch: BATCH,
    seq: SEQ,
    schedule: { lr: 1e-2, warmupSteps: 0, decay: 'constant' },
    optimizer: defaultAdamW({ weightDecay: 0 }),
    clipNorm: 1,
    evalBatches: 2,
    seed: 1,
    threads: 1,
    ...over,
  };
}

export async function tinyContext(
  dir: string,
  steps: number,
  o: Partial<Omit<DistillContextOptions, 'settings'>> & { settings?: Partial<RunSettings> } = {},
): Promise<DistillContext> {
  const { settings, ...rest } = o;
  return createDistillContext({
    student: { model: new Gpt2(studentConfig()), rebuild: () => new Gpt2(studentConfig()) },
    data: tinyText(),
    ...rest,
    settings: { executor: await sharedExecutor(), ...tinySettings(dir, steps, settings) },
  });
}

/** A trained teacher, cached per process: `steps` of next-token training on the tiny text. */
const trained = new Map<string, Promise<LocalTeacher>>();
export function trainedTeacher(name: string, steps = 60): Promise<LocalTeacher> {
  const key = `${name}:${steps}`;
  let p = trained.get(key);
  if (!p) {
    p = (async () => {
      const dir = tmpDir();
      const model = new Gpt2(teacherConfig());
      const ctx = await tinyContext(dir, steps, {
        student: { model, rebuild: () => new Gpt2(teacherConfig()) },
        data: { ...tinyText(), validation: undefined },
      });
      await runDistill(ctx, { kind: 'hardLabels' } satisfies DistillConfigInput);
      rmSync(dir, { recursive: true, force: true });
      return new LocalTeacher(name, model, ctx.student.params!, tinyText().tokenizer);
    })();
    trained.set(key, p);
  }
  return p;
}

const dirs: string[] = [];
export function tmpDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'retort-strategy-'));
  dirs.push(d);
  return d;
}
export function cleanup(): void {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
}
