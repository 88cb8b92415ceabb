// retort serve MODEL: an OpenAI-compatible server (src/serve) over a model folder, a checkpoint or an
// .onnx file, up until Ctrl-C / SIGTERM, which stops taking requests and lets those in flight finish.
// Its options are parsed here, like every command's; src/serve is loaded when the command runs.
import { defineCommand, UsageError } from '../command.ts';
import { serveSchema } from './schema.ts';

/** Requests batched together when --concurrency is not given: 32 clients are served without queueing. */
const DEFAULT_BATCH_ROWS = 32;

export const serveCommand = defineCommand({
  name: 'serve',
  summary: 'Serve a model over an OpenAI-compatible HTTP API (/v1/completions, /v1/chat/completions)',
  usage: 'retort serve MODEL [--host 127.0.0.1] [--port 8000] [options]',
  description: [
    'MODEL is a Hugging Face model folder, a Retort checkpoint (or a run folder with `latest`), or an',
    'exported .onnx file (then --tokenizer names the folder with tokenizer.json). Listens on 127.0.0.1',
    "unless --host says otherwise. Requests are batched continuously: every running request's next token",
    'is decoded in one model run, and requests join and leave between tokens. Up to --concurrency',
    'requests run at once and --queue more wait; past that a request gets 429 with Retry-After. Bodies',
    'over --max-body bytes get 413. Ctrl-C or SIGTERM stops taking requests and lets those in flight',
    'finish (for at most --grace-ms), then exits.',
  ].join('\n'),
  examples: [
    'retort serve retort-demo/models/student --port 8000',
    'retort serve retort-demo/models/student/onnx/model.onnx --tokenizer retort-demo/models/student',
    'retort serve runs/kd/final --name kd --queue 1024 --max-tokens 256',
  ],
  interruptible: true,
  positionals: { names: 'MODEL (a model folder, a checkpoint, or an .onnx file)', min: 1, max: 1 },
  options: {
    name: { type: 'string', arg: 'ID', help: 'The model id clients ask for (default the folder or file name)' },
    host: {
      type: 'string',
      arg: 'ADDR',
      default: '127.0.0.1',
      help: 'Address to listen on (0.0.0.0 exposes the server to the network)',
    },
    port: { type: 'string', arg: 'PORT', default: '8000', help: 'Port (0: any free port)' },
    tokenizer: {
      type: 'string',
      arg: 'DIR',
      help: "For an .onnx MODEL: the folder with tokenizer.json (default the file's folder or its parent)",
    },
    concurrency: { type: 'string', arg: 'N', help: 'Requests decoded at once (default 32; 1 with --no-batching)' },
    'no-batching': {
      type: 'boolean',
      help: 'Decode each request on its own, one after another (ONNX files always do)',
    },
    queue: {
      type: 'string',
      arg: 'N',
      default: '256',
      help: 'Requests that may wait for a slot; more get 429 with Retry-After',
    },
    'max-body': { type: 'string', arg: 'BYTES', default: '1048576', help: 'Largest request body; larger ones get 413' },
    'max-tokens': { type: 'string', arg: 'N', default: '1024', help: 'Largest max_tokens a request may ask for' },
    'max-prompt-tokens': {
      type: 'string',
      arg: 'N',
      help: "Longest prompt in tokens (default the model's context, at most 8192)",
    },
    'grace-ms': {
      type: 'string',
      arg: 'MS',
      default: '10000',
      help: 'On shutdown, how long requests in flight may take to finish',
    },
    threads: { type: 'string', arg: 'N', help: 'onnxruntime threads (default RETORT_THREADS, else the cores)' },
    quiet: { type: 'boolean', help: 'No line per request on stderr' },
  },
  schema: serveSchema,
  async run({ values, positionals, io, json, signal }) {
    const { loadBackend, startServer } = await import('../../serve/index.ts');
    const model = positionals[0]!;
    const batching = !values['no-batching'];
    const concurrency = values.concurrency ?? (batching ? DEFAULT_BATCH_ROWS : 1);
    const backend = await loadBackend(model, {
      name: values.name,
      tokenizer: values.tokenizer,
      threads: values.threads,
      batchRows: batching ? concurrency : 0,
    }).catch((err: Error) => {
      // A path that is not a model is the command line's mistake: exit 2 with the fix.
      if (/^serve: .* (does not exist|is a file but not \.onnx)/.test(err.message))
        throw new UsageError(`MODEL ${err.message.replace(/^serve: /, '')}`, 'serve');
      throw err;
    });
    const server = await startServer({
      backend,
      host: values.host,
      port: values.port,
      // Without a batcher (an ONNX file) requests run one at a time unless told otherwise.
      concurrency: backend.batcher ? concurrency : (values.concurrency ?? 1),
      queue: values.queue,
      maxBodyBytes: values['max-body'],
      maxPromptTokens: values['max-prompt-tokens'],
      shutdownGraceMs: values['grace-ms'],
      limits: { maxTokens: values['max-tokens'] },
      log: values.quiet ? undefined : (line) => io.err(line),
    });
    const say = (line: string) => (json ? io.err(line) : io.out(line));
    const mode = backend.batcher
      ? `continuous batching, up to ${concurrency} requests at once`
      : `one request at a time${concurrency > 1 ? ` per slot, ${concurrency} slots` : ''}`;
    say(
      `retort serve: ${backend.kind} model '${backend.name}' (${mode}, ${values.queue} more queued) listening on ${server.url}`,
    );
    if (json) io.out(JSON.stringify({ event: 'listening', url: server.url }));
    await new Promise<void>((ok) =>
      signal.aborted ? ok() : signal.addEventListener('abort', () => ok(), { once: true }),
    );
    say('retort serve: stopping; finishing the requests in flight');
    await server.close();
    return { url: server.url };
  },
});
