// zod issues as sentences a person can act on:
//   train.yaml: optimizer.lr: expected a positive number, got -1; fix: set optimizer.lr to a positive number, e.g. 0.0003 (peak learning rate, ...)
// Each names the file, the field path, what was expected, what came, and a fix, the fix drawing on
// the field's description and example from the schema's metadata.
import { z } from 'zod';

export interface ConfigIssue {
  /** Dotted field path ('optimizer.lr', 'data.tokenizer.kind'); '(top level)' for the root. */
  path: string;
  expected: string;
  /** The value found, as JSON, or 'nothing' when the field is missing. */
  received: string;
  fix: string;
  /** The whole sentence. */
  message: string;
}

export class ConfigError extends Error {
  override name = 'ConfigError';
  constructor(
    readonly file: string,
    readonly issues: ConfigIssue[],
  ) {
    super(issues.map((i) => i.message).join('\n'));
  }
}

/** One issue at `path` of `file`, in the words every config error uses: expected, got, fix. */
export function configIssue(file: string, path: string, expected: string, received: string, fix: string): ConfigError {
  return new ConfigError(file, [{ path, expected, received, fix, message: `${file}: ${path}: expected ${expected}, got ${received}; fix: ${fix}` }]);
}

type Issue = z.core.$ZodIssue & { input?: unknown };

// ------------------------------------------------------------------ schema lookups
type AnySchema = z.core.$ZodType;

function defOf(s: AnySchema): Record<string, unknown> & { type: string } {
  return (s as unknown as { _zod: { def: Record<string, unknown> & { type: string } } })._zod.def;
}

/** Peels default/optional/nullable/pipe wrappers. */
function unwrap(s: AnySchema): AnySchema {
  for (;;) {
    const d = defOf(s);
    if (d.type === 'default' || d.type === 'optional' || d.type === 'nullable' || d.type === 'prefault' || d.type === 'readonly') s = d.innerType as AnySchema;
    else if (d.type === 'pipe') s = d.in as AnySchema;
    else return s;
  }
}

/** The schema of the field at `path`, following objects, unions (the option with that key) and records. */
function schemaAt(root: AnySchema, path: readonly PropertyKey[]): AnySchema | undefined {
  let s: AnySchema | undefined = root;
  for (const key of path) {
    if (!s) return undefined;
    const d = defOf(unwrap(s));
    if (d.type === 'object') s = (d.shape as Record<string, AnySchema>)[String(key)];
    else if (d.type === 'union') {
      const option = (d.options as AnySchema[]).map((o) => defOf(unwrap(o))).find((o) => o.type === 'object' && String(key) in (o.shape as object));
      s = (option?.shape as Record<string, AnySchema> | undefined)?.[String(key)];
    }
    else if (d.type === 'record') s = d.valueType as AnySchema;
    else if (d.type === 'tuple') s = (d.items as AnySchema[])[Number(key)];
    else return undefined;
  }
  return s;
}

interface FieldMeta {
  description?: string;
  example?: unknown;
}

/** The description and example of a field, from whichever wrapper carries them. */
function metaOf(s: AnySchema | undefined): FieldMeta {
  const out: FieldMeta = {};
  while (s) {
    const m = z.globalRegistry.get(s) as FieldMeta | undefined;
    out.description ??= m?.description;
    if (out.example === undefined && m?.example !== undefined) out.example = m.example;
    const d = defOf(s);
    s = d.type === 'default' || d.type === 'optional' || d.type === 'nullable' || d.type === 'prefault' ? (d.innerType as AnySchema) : undefined;
  }
  return out;
}

function isIntSchema(s: AnySchema | undefined): boolean {
  if (!s) return false;
  const checks = (defOf(unwrap(s)).checks ?? []) as { _zod: { def: { check?: string; format?: string } } }[];
  return checks.some((c) => c._zod.def.format === 'safeint' || c._zod.def.format === 'int32');
}

// ------------------------------------------------------------------ words
const TYPE_WORDS: Record<string, string> = {
  number: 'a number',
  int: 'an integer',
  string: 'text',
  boolean: 'true or false',
  object: 'a mapping of fields',
  record: 'a mapping of fields',
  array: 'a list',
  tuple: 'a list',
};

function show(v: unknown): string {
  if (v === undefined) return 'nothing';
  const s = JSON.stringify(v);
  return s === undefined ? String(v) : s.length > 60 ? s.slice(0, 57) + '...' : s;
}

/** Levenshtein distance, for "did you mean". */
export function levenshtein(a: string, b: string): number {
  const dp = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = dp[0]!;
    dp[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = dp[j]!;
      dp[j] = Math.min(dp[j]! + 1, dp[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return dp[b.length]!;
}

/** Case-insensitive distance: field names differ from typos in case too. */
const distance = (a: string, b: string): number => levenshtein(a.toLowerCase(), b.toLowerCase());

function closest(word: string, options: readonly string[]): string | undefined {
  let best: string | undefined, bestD = Infinity;
  for (const o of options) {
    const d = distance(word, o);
    if (d < bestD) [best, bestD] = [o, d];
  }
  return best !== undefined && bestD <= Math.max(2, Math.floor(word.length / 3)) ? best : undefined;
}

function bound(issue: { minimum?: unknown; maximum?: unknown; inclusive?: boolean }, noun: string, small: boolean): string {
  const v = Number(small ? issue.minimum : issue.maximum);
  if (small && v === 0) return issue.inclusive ? `a non-negative ${noun} (0 or more)` : `a positive ${noun}`;
  return `${noun === 'integer' ? 'an' : 'a'} ${noun} ${small ? (issue.inclusive ? '≥' : '>') : issue.inclusive ? '≤' : '<'} ${v}`;
}

// ------------------------------------------------------------------ one issue → sentences
function describe(file: string, root: AnySchema, issue: Issue, pathPrefix: readonly PropertyKey[]): ConfigIssue[] {
  const fullPath = [...pathPrefix, ...issue.path];
  const field = schemaAt(root, issue.path);
  const meta = metaOf(field);
  const name = (p: readonly PropertyKey[]) => (p.length ? p.map(String).join('.') : '(top level)');
  const about = meta.description ? ` (${meta.description[0]!.toLowerCase()}${meta.description.slice(1)})` : '';
  const eg = meta.example !== undefined ? `, e.g. ${show(meta.example)}` : '';
  const make = (path: string, expected: string, received: string, fix: string): ConfigIssue => ({
    path, expected, received, fix, message: `${file}: ${path}: expected ${expected}, got ${received}; fix: ${fix}`,
  });
  const at = name(fullPath);
  const received = show(issue.input);

  switch (issue.code) {
    case 'invalid_type': {
      const noun = issue.expected === 'number' && isIntSchema(field) ? 'an integer' : (TYPE_WORDS[issue.expected] ?? issue.expected);
      const fix = issue.input === undefined ? `add ${at}${eg}${about}` : `write ${at} as ${noun}${eg}${about}`;
      return [make(at, noun, received, fix)];
    }
    case 'too_small':
    case 'too_big': {
      const small = issue.code === 'too_small';
      if (issue.origin === 'number' || issue.origin === 'bigint') {
        const expected = bound(issue, isIntSchema(field) ? 'integer' : 'number', small);
        return [make(at, expected, received, `set ${at} to ${expected}${eg}${about}`)];
      }
      const v = Number(small ? issue.minimum : issue.maximum);
      const unit = issue.origin === 'string' ? 'characters' : 'items';
      const expected = `${small ? 'at least' : 'at most'} ${v} ${unit}`;
      return [make(at, expected, received, `${small ? 'lengthen' : 'shorten'} ${at}${eg}${about}`)];
    }
    case 'invalid_value': {
      const options = issue.values.map((v) => String(v));
      const guess = typeof issue.input === 'string' ? closest(issue.input, options) : undefined;
      const expected = options.length === 1 ? show(issue.values[0]) : `one of ${options.map((o) => show(o)).join(', ')}`;
      return [make(at, expected, received, guess ? `did you mean ${show(guess)}?${about}` : `use ${expected}${about}`)];
    }
    case 'invalid_union': {
      const u = issue as Issue & { discriminator?: string; options?: unknown[] };
      if (u.discriminator && u.options) {
        const options = u.options.map(String);
        const got = (issue.input as Record<string, unknown> | undefined)?.[u.discriminator];
        const guess = typeof got === 'string' ? closest(got, options) : undefined;
        const expected = `one of ${options.map((o) => show(o)).join(', ')}`;
        const path = issue.path.at(-1) === u.discriminator ? at : name([...fullPath, u.discriminator]);
        return [make(path, expected, show(got), guess ? `did you mean ${show(guess)}?` : `set ${path} to ${expected}`)];
      }
      return [make(at, meta.description ?? 'one of the allowed forms', received, `see the description of ${at}${about}`)];
    }
    case 'unrecognized_keys': {
      const d = field ? defOf(unwrap(field)) : undefined;
      const known = d?.type === 'object' ? Object.keys(d.shape as object) : [];
      return issue.keys.map((k) => {
        const guess = closest(k, known);
        const path = name([...fullPath, k]);
        const expected = `one of the fields ${known.join(', ')}`;
        const fix = guess ? `did you mean ${show(guess)}?` : `remove it (${at === '(top level)' ? 'the top level' : at} has ${known.join(', ')})`;
        return { path, expected, received: show((issue.input as Record<string, unknown>)?.[k]), fix, message: `${file}: ${path}: unknown field; fix: ${fix}` };
      });
    }
    case 'invalid_format': {
      // Schemas word their own pattern errors ("one of ..."); zod's default says "Invalid string: ...".
      const expected = issue.message.startsWith('Invalid') ? `${issue.format} text` : issue.message;
      return [make(at, expected, received, `set ${at} to ${expected}${eg}${about}`)];
    }
    default: {
      // Custom checks write "expected ...; fix: ..." themselves; others fall back to zod's message.
      const [expected, fix] = issue.message.includes('; fix: ') ? issue.message.split('; fix: ') as [string, string] : [issue.message, `see the description of ${at}${about}`];
      // An object's dump says little about a rule across its fields (dModel vs nHeads); values are worth showing.
      const got = issue.input === undefined || (typeof issue.input === 'object' && issue.input !== null) ? '' : `, got ${received}`;
      return [{ path: at, expected, received, fix, message: `${file}: ${at}: ${expected}${got}; fix: ${fix}` }];
    }
  }
}

/** Turns a failed safeParse (with reportInput: true) into a ConfigError naming `file`; `pathPrefix` places a sub-schema (e.g. ['distill']). */
export function configError(file: string, root: AnySchema, error: z.core.$ZodError, pathPrefix: readonly PropertyKey[] = []): ConfigError {
  return new ConfigError(file, error.issues.flatMap((i) => describe(file, root, i as Issue, pathPrefix)));
}
