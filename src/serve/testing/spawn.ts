// Starts `retort serve` (bin/retort.js) in a child process and waits for its URL, for tests that
// SIGTERM or SIGKILL the server and for the serving benchmark. Any free port unless --port is given.
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';

export interface ChildServer {
  url: string;
  port: number;
  proc: ChildProcess;
  /** Everything the child wrote to stdout and stderr so far. */
  output(): string;
  /** Resolves with the exit code (or signal name) when the child ends. */
  exited: Promise<number | string>;
}

const BIN = join(import.meta.dirname, '../../../bin/retort.js');

export function spawnServer(args: readonly string[], o: { timeoutMs?: number } = {}): Promise<ChildServer> {
  const proc = spawn(process.execPath, [BIN, 'serve', ...(args.includes('--port') ? [] : ['--port', '0']), ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, RETORT_THREADS: process.env.RETORT_THREADS ?? '2' },
  });
  let out = '';
  const exited = new Promise<number | string>((resolve) =>
    proc.once('exit', (code, signal) => resolve(code ?? signal ?? -1)),
  );
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`server child did not start within ${o.timeoutMs ?? 20_000} ms:\n${out}`));
    }, o.timeoutMs ?? 20_000);
    const onData = (d: Buffer) => {
      out += d.toString();
      const m = /listening on (http:\/\/[^\s]+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ url: m[1]!, port: Number(new URL(m[1]!).port), proc, output: () => out, exited });
      }
    };
    proc.stdout!.on('data', onData);
    proc.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`server child exited (${code}) before listening:\n${out}`));
    });
  });
}
