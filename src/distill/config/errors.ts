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
  return new ConfigError(file, [
    { path, expected, received, fix, message: `${file}: ${path}: expected ${expected}, got ${received}; fix: ${fix}` },
  ]);
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
    if (
      d.type === 'default' ||
      d.type === 'optional' ||
      d.type === 'nullable' ||
      d.type === 'prefault' ||
      d.type === 'readonly'
    )
      s = d.innerType as AnySchema;
    // A preprocess (transform → schema) is described by the schema it feeds; a transform after a schema, by that schema.
    else if (d.type === 'pipe') s = (defOf(d.in as AnySchema).type === 'transform' ? d.out : d.in) as AnySchema;
    else return s;
  }
}

type Shape = Record<string, AnySchema>;

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** The fields an object option pins to literal values (a discriminated union's `kind`). */
function literalsOf(shape: Shape): [string, readonly unknown[]][] {
  return Object.entries(shape).flatMap(([k, s]) => {
    const d = defOf(unwrap(s));
    return d.type === 'literal' ? [[k, d.values as unknown[]] as [string, readonly unknown[]]] : [];
  });
}

/**
 * The object option of a union that `value` was checked against: the one whose literal fields
 * (the discriminator) the value matches, then the one sharing most of its fields; with `key`, only
 * options that have that field.
 */
function optionFor(options: readonly AnySchema[], value: unknown, key?: string): Shape | undefined {
  const shapes = options
    .map((o) => defOf(unwrap(o)))
    .filter((d) => d.type === 'object')
    .map((d) => d.shape as Shape);
  const fits = (shape: Shape) =>
    !isPlainObject(value) || literalsOf(shape).every(([k, vs]) => !(k in value) || vs.includes(value[k]));
  const overlap = (shape: Shape) => (isPlainObject(value) ? Object.keys(value).filter((k) => k in shape).length : 0);
  return shapes
    .filter((shape) => key === undefined || key in shape)
    .sort((a, b) => Number(fits(b)) - Number(fits(a)) || overlap(b) - overlap(a))[0];
}

/** The schema one step down from `s` at `key`, through objects, unions (the option `value` took), records, lists and tuples. */
function childOf(s: AnySchema, key: PropertyKey, value: unknown): AnySchema | undefined {
  const d = defOf(unwrap(s));
  switch (d.type) {
    case 'object':
      return (d.shape as Shape)[String(key)];
    case 'union':
      return optionFor(d.options as AnySchema[], value, String(key))?.[String(key)];
    case 'record':
      return d.valueType as AnySchema;
    case 'array':
      return d.element as AnySchema;
    case 'tuple':
      return (d.items as AnySchema[])[Number(key)] ?? (d.rest as AnySchema | undefined);
    case 'lazy':
      return childOf((d.getter as () => AnySchema)(), key, value);
    default:
      return undefined;
  }
}

/** The schema of the field at `path`, walking the input alongside (when given) to pick union options. */
function schemaAt(root: AnySchema, path: readonly PropertyKey[], input?: unknown): AnySchema | undefined {
  let s: AnySchema | undefined = root;
  let value = input;
  for (const key of path) {
    if (!s) return undefined;
    s = childOf(s, key, value);
    value =
      isPlainObject(value) || Array.isArray(value) ? (value as Record<PropertyKey, unknown>)[key as never] : undefined;
  }
  return s;
}

/** The fields of the object at a schema: the object's, or the union option `value` took. */
function shapeOf(s: AnySchema | undefined, value: unknown): Shape | undefined {
  if (!s) return undefined;
  const d = defOf(unwrap(s));
  if (d.type === 'object') return d.shape as Shape;
  if (d.type === 'union') return optionFor(d.options as AnySchema[], value);
  if (d.type === 'lazy') return shapeOf((d.getter as () => AnySchema)(), value);
  return undefined;
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
    s =
      d.type === 'default' || d.type === 'optional' || d.type === 'nullable' || d.type === 'prefault'
        ? (d.innerType as AnySchema)
        : undefined;
  }
  return out;
}

const lowerFirst = (t: string): string => t[0]!.toLowerCase() + t.slice(1);

/** An issue saying the value is not of an option's form at all: another type, or another value of its literal field (kind). */
function isWrongForm(issue: Issue, option: AnySchema | undefined): boolean {
  const disc = (issue as { discriminator?: string }).discriminator;
  if (
    issue.code === 'invalid_union' &&
    disc !== undefined &&
    (issue.path.length === 0 || (issue.path.length === 1 && issue.path[0] === disc))
  )
    return true;
  if (issue.path.length === 0) return issue.code === 'invalid_type' || issue.code === 'invalid_value';
  if (issue.code !== 'invalid_value' || issue.path.length !== 1 || !option) return false;
  const d = defOf(unwrap(option));
  const f = d.type === 'object' ? (d.shape as Shape)[String(issue.path[0])] : undefined;
  return f !== undefined && defOf(unwrap(f)).type === 'literal';
}

/** One option of a union in words: `a number`, `{kind: "linear", from, to, startStep, endStep}`. */
function formOf(option: AnySchema): string {
  const d = defOf(unwrap(option));
  if (d.type === 'object') {
    const lits = new Map(literalsOf(d.shape as Shape));
    return `{${Object.keys(d.shape as Shape)
      .map((k) => (lits.has(k) ? `${k}: ${show(lits.get(k)![0])}` : k))
      .join(', ')}}`;
  }
  if (d.type === 'literal') return (d.values as unknown[]).map(show).join(' or ');
  if (d.type === 'enum')
    return `one of ${Object.values(d.entries as object)
      .map(show)
      .join(', ')}`;
  return TYPE_WORDS[d.type] ?? d.type;
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
  return s === undefined ? String(v) : s.length > 60 ? `${s.slice(0, 57)}...` : s;
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
  let best: string | undefined,
    bestD = Infinity;
  for (const o of options) {
    const d = distance(word, o);
    if (d < bestD) [best, bestD] = [o, d];
  }
  return best !== undefined && bestD <= Math.max(2, Math.floor(word.length / 3)) ? best : undefined;
}

function bound(
  issue: { minimum?: unknown; maximum?: unknown; inclusive?: boolean },
  noun: string,
  small: boolean,
): string {
  const v = Number(small ? issue.minimum : issue.maximum);
  if (small && v === 0) return issue.inclusive ? `a non-negative ${noun} (0 or more)` : `a positive ${noun}`;
  return `${noun === 'integer' ? 'an' : 'a'} ${noun} ${small ? (issue.inclusive ? '≥' : '>') : issue.inclusive ? '≤' : '<'} ${v}`;
}

// ------------------------------------------------------------------ one issue → sentences
/** `guessed` collects the paths that a "did you mean" names, whose "missing" issues then say nothing more. */
function describe(
  file: string,
  root: AnySchema,
  issue: Issue,
  pathPrefix: readonly PropertyKey[],
  input: unknown,
  guessed: Set<string>,
): ConfigIssue[] {
  const fullPath = [...pathPrefix, ...issue.path];
  const field = schemaAt(root, issue.path, input);
  const meta = metaOf(field);
  const name = (p: readonly PropertyKey[]) => (p.length ? p.map(String).join('.') : '(top level)');
  const about = meta.description ? ` (${lowerFirst(meta.description)})` : '';
  const eg = meta.example !== undefined ? `, e.g. ${show(meta.example)}` : '';
  const make = (path: string, expected: string, received: string, fix: string): ConfigIssue => ({
    path,
    expected,
    received,
    fix,
    message: `${file}: ${path}: expected ${expected}, got ${received}; fix: ${fix}`,
  });
  const at = name(fullPath);
  const received = show(issue.input);

  switch (issue.code) {
    case 'invalid_type': {
      const noun =
        issue.expected === 'number' && isIntSchema(field)
          ? 'an integer'
          : (TYPE_WORDS[issue.expected] ?? issue.expected);
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
      const expected =
        options.length === 1 ? show(issue.values[0]) : `one of ${options.map((o) => show(o)).join(', ')}`;
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
      // A plain union: the issues of the option the value was meant for (the right type, and its literal fields match).
      const union = field ? defOf(unwrap(field)) : undefined;
      const options = union?.type === 'union' ? (union.options as AnySchema[]) : [];
      const branches = ((issue as { errors?: Issue[][] }).errors ?? []).map((b, i) => ({
        issues: b,
        option: options[i],
      }));
      const meant = branches.filter((b) => b.issues.length > 0 && !b.issues.some((i) => isWrongForm(i, b.option)));
      if (meant.length > 0) {
        const best = meant.reduce((a, b) => (b.issues.length < a.issues.length ? b : a));
        return best.issues.flatMap((i) =>
          describe(file, root, { ...i, path: [...issue.path, ...i.path] } as Issue, pathPrefix, input, guessed),
        );
      }
      const forms = [...new Set(options.map(formOf))];
      if (forms.length === 0)
        return [
          make(at, meta.description ?? 'one of the allowed forms', received, `see the description of ${at}${about}`),
        ];
      const expected = forms.join(' or ');
      return [make(at, expected, received, `write ${at} as ${expected}${eg}${about}`)];
    }
    case 'unrecognized_keys': {
      const shape = shapeOf(field, issue.input);
      const known = shape ? Object.keys(shape) : [];
      const where = `${at === '(top level)' ? 'the top level' : at}${about}`;
      const fields = known.length ? `${where} has ${known.join(', ')}` : `${where} takes no fields`;
      return issue.keys.map((k) => {
        const guess = closest(k, known);
        const path = name([...fullPath, k]);
        const expected = `one of the fields ${known.join(', ')}`;
        const meant = guess ? metaOf(shape![guess]).description : undefined;
        if (guess) guessed.add(name([...fullPath, guess]));
        const fix = guess
          ? `did you mean ${show(guess)}?${meant ? ` (${lowerFirst(meant)})` : ''}; ${fields}`
          : `remove it; ${fields}`;
        return {
          path,
          expected,
          received: show((issue.input as Record<string, unknown>)?.[k]),
          fix,
          message: `${file}: ${path}: unknown field; fix: ${fix}`,
        };
      });
    }
    case 'invalid_format': {
      // Schemas word their own pattern errors ("one of ..."); zod's default says "Invalid string: ...".
      const expected = issue.message.startsWith('Invalid') ? `${issue.format} text` : issue.message;
      return [make(at, expected, received, `set ${at} to ${expected}${eg}${about}`)];
    }
    default: {
      // A section parsed by code of its own (nestedIssues) arrives worded already.
      const nested = (issue as { params?: { configIssue?: ConfigIssue; sentence?: string } }).params;
      if (issue.code === 'custom' && nested?.configIssue && nested.sentence) {
        return [{ ...nested.configIssue, path: at, message: `${file}: ${at}: ${nested.sentence}` }];
      }
      // Custom checks write "expected ...; fix: ..." themselves; others fall back to zod's message.
      const [expected, fix] = issue.message.includes('; fix: ')
        ? (issue.message.split('; fix: ') as [string, string])
        : [issue.message, `see the description of ${at}${about}`];
      // An object's dump says little about a rule across its fields (dModel vs nHeads); values are worth showing.
      const got =
        issue.input === undefined || (typeof issue.input === 'object' && issue.input !== null)
          ? ''
          : `, got ${received}`;
      return [{ path: at, expected, received, fix, message: `${file}: ${at}: ${expected}${got}; fix: ${fix}` }];
    }
  }
}

/**
 * Turns a failed safeParse (with reportInput: true) into a ConfigError naming `file`; `pathPrefix`
 * places a sub-schema (e.g. ['distill']). `input`, the value parsed, picks the union option each
 * path went through (a teacher's `source` by its kind), so the fields, descriptions and "did you
 * mean" are that option's.
 */
export function configError(
  file: string,
  root: AnySchema,
  error: z.core.$ZodError,
  pathPrefix: readonly PropertyKey[] = [],
  input?: unknown,
): ConfigError {
  const guessed = new Set<string>();
  const issues = error.issues.flatMap((i) => describe(file, root, i as Issue, pathPrefix, input, guessed));
  // "hfDir is missing" beside "hfdir: did you mean hfDir?" says nothing more.
  const kept = issues.filter((i) => !(i.received === 'nothing' && guessed.has(i.path)));
  return new ConfigError(file, kept.length > 0 ? kept : issues);
}

/**
 * A ConfigError raised while parsing a field by code (a transform that runs its own parser) as
 * issues of the enclosing schema, each keeping its sentence. Its paths must start with `prefix`,
 * the field's full path, which is cut off so zod places the issues under the field itself.
 */
export function nestedIssues(err: ConfigError, prefix: readonly string[]): z.core.$ZodRawIssue[] {
  return err.issues.map((i) => {
    let path = i.path === '(top level)' ? [] : i.path.split('.');
    if (prefix.every((p, j) => path[j] === p)) path = path.slice(prefix.length);
    const head = `${err.file}: ${i.path}: `;
    const sentence = i.message.startsWith(head) ? i.message.slice(head.length) : i.message;
    return {
      code: 'custom',
      path,
      message: `${i.expected}; fix: ${i.fix}`,
      params: { configIssue: i, sentence },
      input: undefined,
    };
  });
}
