// Reads a run configuration file (.json, or .yaml/.yml through the `yaml` package), validates it, and
// resolves its relative paths against the file's folder. Every refusal is a ConfigError that names
// the file, the field, what was expected, what came, and a fix.
import { existsSync, readFileSync } from 'node:fs';
import { basename, dirname, extname, isAbsolute, resolve } from 'node:path';
import YAML from 'yaml';
import type { z } from 'zod';
import type { OptimizerConfig, Schedule } from '../../optim/index.ts';
import { ConfigError, configError, configIssue } from './errors.ts';
import { runConfigSchema, type RunConfig } from './schema.ts';

export const BUILTIN_DATASETS = ['sotu', 'spam'] as const;

export interface ParseOptions<D> {
  /** Schema of the `distill` section (the distillation engine's); its errors read like the rest. */
  distill?: z.ZodType<D>;
  /** Folder that relative paths are resolved against; default the config file's. */
  baseDir?: string;
}

export type LoadedRunConfig<D> = Omit<RunConfig, 'distill'> & { distill?: D };

/** Line and column of a character offset, both 1-based. */
function lineCol(text: string, offset: number): string {
  const before = text.slice(0, offset).split('\n');
  return `line ${before.length}, column ${before.at(-1)!.length + 1}`;
}

/** The file's contents as a plain value (JSON or YAML by extension), with syntax errors located. */
export function readConfigFile(path: string): unknown {
  const name = basename(path);
  if (!existsSync(path))
    throw new ConfigError(name, [
      {
        path: '(file)',
        expected: 'a config file',
        received: 'nothing',
        fix: `check the path ${resolve(path)}`,
        message: `${path}: no such file; check the path (resolved: ${resolve(path)})`,
      },
    ]);
  const text = readFileSync(path, 'utf8');
  const ext = extname(path).toLowerCase();
  const syntax = (where: string, what: string, fix: string) =>
    new ConfigError(name, [
      { path: '(file)', expected: `valid ${what}`, received: where, fix, message: `${name}: ${where}: ${fix}` },
    ]);
  if (ext === '.json') {
    try {
      return JSON.parse(text);
    } catch (err) {
      const msg = (err as Error).message;
      const pos = /position (\d+)/.exec(msg);
      throw syntax(
        pos ? lineCol(text, Number(pos[1])) : 'JSON',
        'JSON',
        `not valid JSON (${msg}); fix the syntax there (trailing commas and comments are not JSON; use .yaml for those)`,
      );
    }
  }
  if (ext === '.yaml' || ext === '.yml') {
    const doc = YAML.parseDocument(text, { prettyErrors: false });
    const err = doc.errors[0];
    if (err) {
      throw syntax(
        lineCol(text, err.pos[0]),
        'YAML',
        `not valid YAML (${err.message.split('\n')[0]}); fix the syntax there`,
      );
    }
    return doc.toJS();
  }
  throw syntax('file name', 'a config file', `unknown extension '${ext}'; name the file .json, .yaml or .yml`);
}

/** Validates a configuration value; `file` labels the errors. */
export function parseRunConfig<D = Record<string, unknown>>(
  value: unknown,
  file: string,
  o: ParseOptions<D> = {},
): LoadedRunConfig<D> {
  const r = runConfigSchema.safeParse(value ?? {}, { reportInput: true });
  if (!r.success) throw configError(file, runConfigSchema, r.error, [], value);
  const c = r.data;
  let distill: D | undefined = c.distill as D | undefined;
  if (o.distill && c.distill !== undefined) {
    const d = o.distill.safeParse(c.distill, { reportInput: true });
    if (!d.success) throw configError(file, o.distill, d.error, ['distill'], c.distill);
    distill = d.data;
  }
  const base = o.baseDir ?? process.cwd();
  const at = (p: string) => (isAbsolute(p) ? p : resolve(base, p));
  const out: LoadedRunConfig<D> = { ...c, distill, checkpoint: { ...c.checkpoint, dir: at(c.checkpoint.dir) } };
  if (c.model.hfDir) out.model = { ...c.model, hfDir: at(c.model.hfDir) };
  if (c.data.tokenizer.kind === 'hf')
    out.data = { ...out.data, tokenizer: { ...c.data.tokenizer, path: at(c.data.tokenizer.path) } };
  if (!(BUILTIN_DATASETS as readonly string[]).includes(c.data.dataset)) {
    const path = at(c.data.dataset);
    if (!existsSync(path)) {
      const expected = `'sotu', 'spam', or the path of a text file or a .jsonl file of task records`;
      const fix = `no file at ${path}; check the path (relative paths start at the config file's folder) or use a built-in dataset`;
      throw configIssue(file, 'data.dataset', expected, JSON.stringify(c.data.dataset), fix);
    }
    out.data = { ...out.data, dataset: path };
  }
  if (c.data.validation.file !== undefined) {
    const path = at(c.data.validation.file);
    if (!existsSync(path))
      throw configIssue(
        file,
        'data.validation.file',
        'the path of a .jsonl file of held-out records',
        JSON.stringify(c.data.validation.file),
        `no file at ${path}; check the path (relative paths start at the config file's folder)`,
      );
    out.data = { ...out.data, validation: { ...out.data.validation, file: path } };
  }
  if (c.task === 'classify' && c.data.dataset !== 'spam' && !c.data.dataset.endsWith('.jsonl')) {
    const expected = `'spam' or a .jsonl file of {"text", "label"} lines (task classify reads labelled texts)`;
    const fix =
      c.data.dataset === 'sotu'
        ? "SOTU text has no labels: use dataset 'spam', a .jsonl file, or task 'lm'"
        : 'name the file *.jsonl, one {"text": ..., "label": ...} object per line';
    throw configIssue(file, 'data.dataset', expected, JSON.stringify(c.data.dataset), fix);
  }
  if (c.data.validation.afterYear !== undefined && c.data.dataset !== 'sotu') {
    const fix = 'remove afterYear, or use validation.fraction';
    throw new ConfigError(file, [
      {
        path: 'data.validation.afterYear',
        expected: "dataset 'sotu' (the only one with years)",
        received: JSON.stringify(c.data.dataset),
        fix,
        message: `${file}: data.validation.afterYear: only applies to dataset 'sotu', got dataset ${JSON.stringify(c.data.dataset)}; fix: ${fix}`,
      },
    ]);
  }
  return out;
}

/** Reads, validates and resolves a run configuration file. */
export function loadRunConfig<D = Record<string, unknown>>(path: string, o: ParseOptions<D> = {}): LoadedRunConfig<D> {
  return parseRunConfig(readConfigFile(path), basename(path), { baseDir: dirname(resolve(path)), ...o });
}

/** The optimizer settings TrainStep takes (the learning rate goes to the schedule). */
export function optimizerOf(c: Pick<RunConfig, 'optimizer'>): OptimizerConfig {
  const { lr: _lr, ...rest } = c.optimizer;
  return rest;
}

/** The learning-rate schedule of the run: optimizer.lr, decaying over all `steps`. */
export function scheduleOf(c: Pick<RunConfig, 'optimizer' | 'schedule' | 'steps'>): Schedule {
  return { lr: c.optimizer.lr, totalSteps: c.steps, ...c.schedule };
}
