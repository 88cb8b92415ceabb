// retort web --dir EXPORT: serves the browser demo (web/) for an exported model on 127.0.0.1.
import { z } from 'zod';
import { defineCommand, described, intOption, UsageError } from '../command.ts';
import { checkExportDir, startWebServer } from './server.ts';

export const webCommand = defineCommand({
  name: 'web',
  summary: 'Serve the browser demo for an exported model (onnxruntime-web, on 127.0.0.1)',
  usage: 'retort web --dir EXPORT_DIR [--port 8080]',
  description: [
    'Serves a static page that loads the exported model (onnx/model_q4.onnx when the export has it, else',
    'model.onnx; ?model=fp32|int8|q4 picks) and its tokenizer.json in the browser with onnxruntime-web (WebAssembly), then',
    'generates greedily (language models) or classifies (classifiers). Listens on 127.0.0.1 only;',
    'onnxruntime-web and the tokenizer library are served from node_modules. Stop it with Ctrl-C.',
  ].join('\n'),
  examples: ['retort web --dir retort-demo/models/student', 'retort web --dir exported/ --port 9000'],
  interruptible: true,
  options: {
    dir: { type: 'string', arg: 'DIR', help: 'Export folder (config.json, tokenizer.json, onnx/model.onnx)' },
    port: { type: 'string', arg: 'PORT', default: '8080', help: 'Port on 127.0.0.1 (0: any free port)' },
  },
  schema: z.object({
    dir: described(
      z.string().min(1),
      'The export folder: config.json, tokenizer.json, onnx/model.onnx',
      'retort-demo/models/student',
    ),
    port: intOption(0, 65535).default(8080),
  }),
  async run({ values, io, json, signal }) {
    const problems = checkExportDir(values.dir);
    if (problems.length)
      throw new UsageError(
        `--dir: ${problems.join('; ')}; export a model first (retort export --model DIR --out DIR, or retort demo)`,
        'web',
      );
    const web = await startWebServer({ dir: values.dir, port: values.port });
    if (json) io.out(JSON.stringify({ event: 'listening', url: web.url }));
    else io.out(`retort web: serving ${values.dir} at ${web.url}  (Ctrl-C stops)`);
    await new Promise<void>((ok) =>
      signal.aborted ? ok() : signal.addEventListener('abort', () => ok(), { once: true }),
    );
    await web.close();
    return { url: web.url, dir: values.dir };
  },
});
