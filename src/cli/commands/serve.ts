// retort serve: hands its arguments to src/serve's serveCommand (an OpenAI-compatible server) and
// stays up until Ctrl-C / SIGTERM. The module is loaded when the command runs, so the rest of the
// CLI works in a tree without it.
import { z } from 'zod';
import { defineCommand, UsageError } from '../command.ts';

interface ServeModule {
  serveCommand(args: readonly string[], o?: { signals?: boolean; out?: (line: string) => void }): Promise<{ url: string; close(): Promise<void> }>;
  SERVE_USAGE?: string;
}

async function loadServe(): Promise<ServeModule | null> {
  const url = new URL('../../serve/index.ts', import.meta.url).href;
  try {
    return (await import(url)) as ServeModule;
  } catch (err) {
    if ((err as { code?: string }).code === 'ERR_MODULE_NOT_FOUND' && String((err as Error).message).includes('serve/index.ts')) return null;
    throw err;
  }
}

export const serveCommand = defineCommand({
  name: 'serve',
  summary: 'Serve a model over an OpenAI-compatible HTTP API (/v1/completions, /v1/chat/completions)',
  usage: 'retort serve MODEL [--host 127.0.0.1] [--port 8000] [options]',
  description: [
    'MODEL is a Hugging Face model folder, a Retort checkpoint, or an exported .onnx file. The options',
    'are those of src/serve (--name, --host, --port, --tokenizer, --concurrency, --queue, --max-tokens, ...).',
    'Ctrl-C finishes the requests in flight, then stops.',
  ].join('\n'),
  examples: ['retort serve retort-demo/models/student --port 8000', 'retort serve retort-demo/models/student/onnx/model.onnx --tokenizer retort-demo/models/student'],
  interruptible: true,
  options: {},
  raw: true,
  schema: z.object({}),
  async run({ positionals: args, io, json, signal }) {
    const mod = await loadServe();
    if (!mod) throw new Error('this build has no src/serve; retort serve is not available');
    let server;
    try {
      server = await mod.serveCommand(args.filter((a) => a !== '--json'), { signals: false, out: (line) => (json ? io.err(line) : io.out(line)) });
    } catch (err) {
      const e = err as Error & { code?: string };
      if (e.code?.startsWith('ERR_PARSE_ARGS') || /^retort serve: .*\n?usage:/s.test(e.message) || /^retort serve: no model given/.test(e.message)) {
        throw new UsageError(e.message.replace(/^retort serve: /, '').split('\nusage:')[0]!, 'serve');
      }
      throw err;
    }
    if (json) io.out(JSON.stringify({ event: 'listening', url: server.url }));
    await new Promise<void>((ok) => (signal.aborted ? ok() : signal.addEventListener('abort', () => ok(), { once: true })));
    await server.close();
    return { url: server.url };
  },
});
