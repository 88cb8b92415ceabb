// The `retort serve` command, for the CLI to call: parses its arguments, loads the model, starts the
// server, prints the URL, and shuts down cleanly on SIGTERM / SIGINT (in-flight requests finish
// within the grace period, new ones are refused).
//   retort serve MODEL [--name ID] [--host 127.0.0.1] [--port 8000] [--tokenizer DIR]
//                      [--concurrency 1] [--queue 16] [--max-body BYTES] [--max-tokens N]
//                      [--max-prompt-tokens N] [--grace-ms 10000] [--threads N] [--quiet]
// MODEL: a Hugging Face model folder, a Retort checkpoint (or run folder with `latest`), or an .onnx file.
import { parseArgs } from 'node:util';
import { loadBackend } from './backend.ts';
import { startServer, type RunningServer } from './server.ts';

export const SERVE_USAGE = `usage: retort serve MODEL [--name ID] [--host 127.0.0.1] [--port 8000] [--tokenizer DIR]
       [--concurrency 1] [--queue 16] [--max-body BYTES] [--max-tokens N] [--max-prompt-tokens N]
       [--grace-ms 10000] [--threads N] [--quiet]
MODEL is a Hugging Face model folder, a Retort checkpoint, or an .onnx file.`;

function int(name: string, v: string | undefined, min = 0): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new Error(`retort serve: --${name} must be an integer >= ${min}, got '${v}'\n${SERVE_USAGE}`);
  return n;
}

export async function serveCommand(args: readonly string[], o: { signals?: boolean; out?: (line: string) => void } = {}): Promise<RunningServer> {
  const { values, positionals } = parseArgs({
    args: [...args],
    allowPositionals: true,
    options: {
      model: { type: 'string' }, name: { type: 'string' }, host: { type: 'string' }, port: { type: 'string' }, tokenizer: { type: 'string' },
      concurrency: { type: 'string' }, queue: { type: 'string' }, 'max-body': { type: 'string' }, 'max-tokens': { type: 'string' },
      'max-prompt-tokens': { type: 'string' }, 'grace-ms': { type: 'string' }, threads: { type: 'string' }, quiet: { type: 'boolean' },
    },
  });
  const model = values.model ?? positionals[0];
  if (!model) throw new Error(`retort serve: no model given\n${SERVE_USAGE}`);
  const out = o.out ?? ((line: string) => process.stdout.write(`${line}\n`));
  const backend = await loadBackend(model, { name: values.name, tokenizer: values.tokenizer, threads: int('threads', values.threads, 1) });
  const maxTokens = int('max-tokens', values['max-tokens'], 1);
  const server = await startServer({
    backend,
    host: values.host,
    port: int('port', values.port),
    concurrency: int('concurrency', values.concurrency, 1),
    queue: int('queue', values.queue),
    maxBodyBytes: int('max-body', values['max-body'], 1),
    maxPromptTokens: int('max-prompt-tokens', values['max-prompt-tokens'], 1),
    shutdownGraceMs: int('grace-ms', values['grace-ms']),
    limits: maxTokens ? { maxTokens } : undefined,
    log: values.quiet ? undefined : (line) => process.stderr.write(`${line}\n`),
  });
  out(`retort serve: ${backend.kind} model '${backend.name}' listening on ${server.url}`);
  if (o.signals ?? true) {
    const stop = (sig: string) => {
      out(`retort serve: ${sig}, finishing in-flight requests`);
      server.close().then(() => process.exit(0), () => process.exit(1));
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  }
  return server;
}
