// The browser demo's server: static files on 127.0.0.1 only.
//   /                       web/index.html (and web/*.js)
//   /model/...              the export folder: config.json, tokenizer.json, onnx/model.onnx, onnx/model_quantized.onnx, onnx/model_q4.onnx
//   /vendor/ort/...         onnxruntime-web's dist files (ESM build and its WebAssembly)
//   /vendor/tokenizers/...  @huggingface/tokenizers' ESM build
//   /api/info               which model files there are, and their sizes
// Every path is resolved inside its root; anything else is 404. Nothing is fetched from the network.
import { createReadStream, existsSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { createRequire } from 'node:module';
import { basename, dirname, extname, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { onnxFileBytes } from '../../onnx/index.ts';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.wasm': 'application/wasm',
  '.onnx': 'application/octet-stream',
  '.map': 'application/json; charset=utf-8',
};

export const WEB_ROOT = resolve(fileURLToPath(new URL('../../../web', import.meta.url)));

/** Folder of an installed package's main file (exports maps hide package.json and dist paths). */
function packageDist(name: string): string {
  const require = createRequire(import.meta.url);
  try {
    return dirname(require.resolve(name));
  } catch {
    throw new Error(`retort web: the npm package '${name}' is not installed; run npm install`);
  }
}

export interface WebServerOptions {
  /** An export folder: config.json, tokenizer.json and onnx/model.onnx (retort export or retort demo writes one). */
  dir: string;
  /** Default 8080; 0 picks a free port. */
  port?: number;
  host?: string;
}

export interface RunningWebServer {
  url: string;
  server: Server;
  close(): Promise<void>;
}

/** Problems with an export folder, as sentences naming the missing file; empty when it can be served. */
export function checkExportDir(dir: string): string[] {
  const problems: string[] = [];
  if (!existsSync(dir) || !statSync(dir).isDirectory()) return [`${dir} is not a folder`];
  for (const f of ['config.json', 'tokenizer.json', join('onnx', 'model.onnx')]) {
    if (!existsSync(join(dir, f))) problems.push(`${join(dir, f)} is missing`);
  }
  return problems;
}

export async function startWebServer(o: WebServerOptions): Promise<RunningWebServer> {
  const modelDir = resolve(o.dir);
  const roots: [string, string][] = [
    ['/vendor/ort/', packageDist('onnxruntime-web')],
    ['/vendor/tokenizers/', packageDist('@huggingface/tokenizers')],
    ['/model/', modelDir],
    ['/', WEB_ROOT],
  ];
  // With the weights' data file, when the export keeps them beside the .onnx.
  const size = (rel: string) => (existsSync(join(modelDir, rel)) ? onnxFileBytes(join(modelDir, rel)) : null);
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const path = decodeURIComponent(url.pathname);
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    if (path === '/api/info') {
      const body = JSON.stringify({
        name: basename(modelDir),
        files: {
          fp32: size('onnx/model.onnx'),
          int8: size('onnx/model_quantized.onnx'),
          q4: size('onnx/model_q4.onnx'),
        },
      });
      res.writeHead(200, { 'content-type': TYPES['.json']!, 'cache-control': 'no-store' }).end(body);
      return;
    }
    const [prefix, root] = roots.find(([p]) => path.startsWith(p))!;
    const rel = path === '/' ? 'index.html' : path.slice(prefix.length);
    const file = resolve(root, rel);
    if ((file !== root && !file.startsWith(root + sep)) || !existsSync(file) || !statSync(file).isFile()) {
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end(`not found: ${path}\n`);
      return;
    }
    res.writeHead(200, {
      'content-type': TYPES[extname(file)] ?? 'application/octet-stream',
      'content-length': statSync(file).size,
      'cache-control': 'no-store',
    });
    if (req.method === 'HEAD') res.end();
    else createReadStream(file).pipe(res);
  });
  const host = o.host ?? '127.0.0.1';
  await new Promise<void>((ok, fail) => {
    server.once('error', fail);
    server.listen(o.port ?? 8080, host, () => ok());
  });
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : o.port;
  return {
    url: `http://${host}:${port}/`,
    server,
    close: () =>
      new Promise<void>((ok) => {
        server.close(() => ok());
        server.closeAllConnections();
      }),
  };
}
