// `retort`: dispatches to a command, prints help, and turns failures into messages and exit codes
// (0 ok, 1 the command failed while running, 2 the command line or a config file is wrong).
// With --json, stdout carries exactly one JSON object: {ok: true, command, result} or
// {ok: false, command, exitCode, error: {type, message, issues?}}; progress stays on stderr.
import { readFileSync } from 'node:fs';
import { ConfigError, levenshtein } from '../distill/config/errors.ts';
import {
  EXIT_FAILURE,
  EXIT_OK,
  EXIT_USAGE,
  helpText,
  parseCommandArgs,
  processIo,
  UsageError,
  type Command,
  type Io,
} from './command.ts';
import { commands } from './commands.ts';

export function version(): string {
  try {
    return (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string })
      .version;
  } catch {
    return 'unknown';
  }
}

export function topHelp(): string {
  const width = Math.max(...Object.keys(commands).map((n) => n.length));
  return [
    `retort ${version()}: distill large language models into small, fast ones`,
    '',
    'usage: retort COMMAND [options]        retort COMMAND --help for its options and examples',
    '',
    'commands:',
    ...Object.values(commands).map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    'every command takes --json (one JSON object on stdout) and --help.',
    'exit codes: 0 ok, 1 the command failed, 2 wrong usage or config.',
    '',
    'start here:',
    '  retort demo                      teacher → student → eval → ONNX → report, on real text',
    '  retort web --dir retort-demo/models/student',
  ].join('\n');
}

function closest(word: string, options: readonly string[]): string | undefined {
  const best = options.map((o) => [o, levenshtein(word, o)] as const).sort((a, b) => a[1] - b[1])[0];
  return best && best[1] <= 2 ? best[0] : undefined;
}

interface Failure {
  exitCode: number;
  type: string;
  message: string;
  issues?: ConfigError['issues'];
}

function classify(err: unknown): Failure {
  if (err instanceof UsageError) return { exitCode: EXIT_USAGE, type: 'usage', message: err.message };
  if (err instanceof ConfigError)
    return { exitCode: EXIT_USAGE, type: 'config', message: err.message, issues: err.issues };
  const e = err instanceof Error ? err : new Error(String(err));
  return { exitCode: EXIT_FAILURE, type: e.name || 'Error', message: e.message };
}

export async function main(argv: readonly string[], io: Io = processIo): Promise<number> {
  const [name, ...rest] = argv;
  const json = argv.includes('--json');
  const fail = (f: Failure, command?: Command<unknown>): number => {
    if (json) {
      io.out(
        JSON.stringify({
          ok: false,
          command: command?.name ?? name ?? null,
          exitCode: f.exitCode,
          error: { type: f.type, message: f.message, ...(f.issues ? { issues: f.issues } : {}) },
        }),
      );
    } else {
      const prefix = command ? `retort ${command.name}` : 'retort';
      const lines = f.type === 'config' ? f.message : `${prefix}: ${f.message}`;
      io.err(lines);
      const aboutOptions =
        f.type === 'usage' ||
        (command !== undefined && f.type === 'config' && f.message.startsWith(`retort ${command.name}: `));
      if (aboutOptions)
        io.err(
          command
            ? `usage: ${command.usage}\nrun 'retort ${command.name} --help' for the options and examples`
            : "run 'retort --help' for the commands",
        );
    }
    return f.exitCode;
  };

  if (name === undefined) {
    io.err(topHelp());
    return EXIT_USAGE;
  }
  if (name === '--help' || name === '-h' || (name === 'help' && rest.length === 0)) {
    io.out(topHelp());
    return EXIT_OK;
  }
  if (name === '--version' || name === '-v') {
    io.out(version());
    return EXIT_OK;
  }
  const wanted = name === 'help' ? rest[0]! : name;
  const command = (commands as Record<string, Command<unknown>>)[wanted];
  if (!command) {
    const guess = closest(wanted, Object.keys(commands));
    return fail({
      exitCode: EXIT_USAGE,
      type: 'usage',
      message: `unknown command '${wanted}'${guess ? `; did you mean '${guess}'?` : ''}`,
    });
  }
  if (name === 'help') {
    io.out(helpText(command));
    return EXIT_OK;
  }

  const controller = new AbortController();
  const stop = () => controller.abort();
  if (command.interruptible) {
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  }
  try {
    const parsed = parseCommandArgs(command, rest);
    if (parsed.help) {
      io.out(helpText(command));
      return EXIT_OK;
    }
    const result = await command.run({
      values: parsed.values,
      positionals: parsed.positionals,
      json: parsed.json,
      io,
      signal: controller.signal,
    });
    if (parsed.json) io.out(JSON.stringify({ ok: true, command: command.name, result }));
    return EXIT_OK;
  } catch (err) {
    const f = classify(err);
    if (f.exitCode === EXIT_FAILURE && process.env.RETORT_DEBUG && err instanceof Error && err.stack) io.err(err.stack);
    return fail(f, command);
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
  }
}
