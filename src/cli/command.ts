// What a `retort` command is: its help (usage, description, examples), its options for
// node:util parseArgs, a zod schema that turns the option strings into checked values, and run().
// Exit codes: 0 done, 1 the command failed while running, 2 the command line or a config file is wrong.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { z } from 'zod';
import { ConfigError, configError } from '../distill/config/errors.ts';

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

/** A wrong command line: exit code 2, with the command's usage line. */
export class UsageError extends Error {
  override name = 'UsageError';
  constructor(
    message: string,
    readonly command?: string,
  ) {
    super(message);
  }
}

export interface Io {
  /** Results (a table, paths; JSON with --json). */
  out(text: string): void;
  /** Progress and diagnostics. */
  err(text: string): void;
}

export const processIo: Io = {
  out: (t) => void process.stdout.write(t.endsWith('\n') ? t : `${t}\n`),
  err: (t) => void process.stderr.write(t.endsWith('\n') ? t : `${t}\n`),
};

export type OptionSpec = NonNullable<ParseArgsConfig['options']>[string] & {
  /** One line for the help text. */
  help: string;
  /** Placeholder in the help text, e.g. 'DIR'. */
  arg?: string;
};

export interface CommandContext<V> {
  values: V;
  positionals: string[];
  json: boolean;
  io: Io;
  /** Aborted on SIGINT/SIGTERM, for commands marked interruptible. */
  signal: AbortSignal;
}

export interface Command<V = Record<string, unknown>> {
  name: string;
  /** One line for `retort --help`. */
  summary: string;
  /** e.g. 'retort eval --teacher DIR --student DIR [options]' */
  usage: string;
  /** Paragraphs after the usage line. */
  description: string;
  examples: string[];
  options: Record<string, OptionSpec>;
  /** Names of the positional arguments, for the help text; absent: none allowed. */
  positionals?: { names: string; min: number; max: number };
  /** Stops cleanly on Ctrl-C / SIGTERM through ctx.signal (servers, labelling); others are simply ended by the signal. */
  interruptible?: boolean;
  /** Hands every argument to run() as positionals, unparsed (a command that parses its own, e.g. serve). */
  raw?: boolean;
  /** Checks and converts parseArgs' values (strings, booleans) into the command's values. */
  schema: z.ZodType<V>;
  /** Returns what --json prints (and what the human output was made from). */
  run(ctx: CommandContext<V>): Promise<unknown>;
}

/** Defines a command with its values' type inferred from its schema. */
export const defineCommand = <S extends z.ZodType>(
  c: Omit<Command<z.output<S>>, 'schema'> & { schema: S },
): Command<z.output<S>> => c as Command<z.output<S>>;

const GLOBAL_OPTIONS: Record<string, OptionSpec> = {
  json: { type: 'boolean', help: 'Print the result as JSON on stdout (progress stays on stderr)' },
  help: { type: 'boolean', short: 'h', help: 'Show this help' },
};

export function helpText(c: Command<unknown>): string {
  const all = { ...c.options, ...GLOBAL_OPTIONS };
  const flag = (name: string, o: OptionSpec) =>
    `${o.short ? `-${o.short}, ` : ''}--${name}${o.type === 'string' ? ` ${o.arg ?? 'VALUE'}` : ''}${o.multiple ? ' (repeatable)' : ''}`;
  const flags = Object.entries(all).map(
    ([n, o]) =>
      [
        flag(n, o),
        o.help + (o.default !== undefined && o.type === 'string' ? ` (default ${String(o.default)})` : ''),
      ] as const,
  );
  const width = Math.max(...flags.map(([f]) => f.length));
  return [
    `usage: ${c.usage}`,
    '',
    c.description,
    '',
    'options:',
    ...flags.map(([f, h]) => `  ${f.padEnd(width)}  ${h}`),
    '',
    'examples:',
    ...c.examples.map((e) => `  ${e}`),
  ].join('\n');
}

/** parseArgs + the command's schema; every problem is a UsageError or a ConfigError (exit 2). */
export function parseCommandArgs<V>(
  c: Command<V>,
  argv: readonly string[],
): { values: V; positionals: string[]; json: boolean; help: boolean } {
  if (c.raw)
    return {
      values: {} as V,
      positionals: [...argv],
      json: argv.includes('--json'),
      help: argv.includes('--help') || argv.includes('-h'),
    };
  const options = Object.fromEntries(
    Object.entries({ ...c.options, ...GLOBAL_OPTIONS }).map(([k, o]) => {
      const { help: _h, arg: _a, ...rest } = o;
      return [k, rest];
    }),
  );
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      options: options as ParseArgsConfig['options'],
      allowPositionals: true,
      strict: true,
    });
  } catch (err) {
    const e = err as Error & { code?: string };
    if (!e.code?.startsWith('ERR_PARSE_ARGS')) throw err;
    const unknown = /Unknown option '([^']+)'/.exec(e.message)?.[1];
    const known = Object.keys({ ...c.options, ...GLOBAL_OPTIONS }).map((k) => `--${k}`);
    const guess = unknown
      ? known.find((k) => k.replace(/^--/, '').startsWith(unknown.replace(/^--?/, '').slice(0, 3)))
      : undefined;
    throw new UsageError(
      `${e.message.replace(/\. To specify a positional argument.*$/, '')}${guess ? `; did you mean ${guess}?` : ''}`,
      c.name,
    );
  }
  const { help, json, ...rest } = parsed.values as Record<string, unknown>;
  if (help) return { values: undefined as V, positionals: parsed.positionals, json: !!json, help: true };
  const p = c.positionals ?? { names: '', min: 0, max: 0 };
  if (parsed.positionals.length < p.min) throw new UsageError(`expected ${p.names}`, c.name);
  if (parsed.positionals.length > p.max) {
    throw new UsageError(
      `unexpected argument${parsed.positionals.length - p.max > 1 ? 's' : ''} ${parsed.positionals
        .slice(p.max)
        .map((x) => `'${x}'`)
        .join(' ')}${p.max ? `; expected at most ${p.names}` : ''}`,
      c.name,
    );
  }
  const r = c.schema.safeParse(rest, { reportInput: true });
  if (!r.success) throw renameFlags(configError(`retort ${c.name}`, c.schema as z.core.$ZodType, r.error));
  return { values: r.data, positionals: parsed.positionals, json: !!json, help: false };
}

/** A ConfigError about command-line options, with the fields written as flags (--port instead of port). */
function renameFlags(e: ConfigError): ConfigError {
  const issues = e.issues.map((i) => {
    const path = i.path === '(top level)' ? i.path : `--${i.path}`;
    return {
      ...i,
      path,
      message: i.message
        .replace(`${e.file}: ${i.path}:`, `${e.file}: ${path}:`)
        .replace(new RegExp(`\\b(set|add|write) ${i.path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\b`), `$1 ${path}`),
    };
  });
  return new ConfigError(e.file, issues);
}

// ------------------------------------------------------------------ zod helpers for option strings
/** Attaches what an option is and an example value: a usage error quotes them in its fix. */
export const described = <T extends z.ZodType>(schema: T, description: string, example?: unknown): T =>
  schema.meta({ description, ...(example !== undefined && { example }) });

/** An optional string option holding an integer in [min, max]. */
export const intOption = (min: number, max = Number.MAX_SAFE_INTEGER) =>
  z
    .string()
    .regex(/^-?\d+$/, { error: 'an integer' })
    .transform(Number)
    .pipe(z.number().int().min(min).max(max));

/** An optional string option holding a number. */
export const numberOption = () =>
  z
    .string()
    .regex(/^-?(\d+\.?\d*|\.\d+)(e-?\d+)?$/i, { error: 'a number' })
    .transform(Number);
