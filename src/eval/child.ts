// Runs a measuring script (memory-child.mjs, gguf-child.mjs) in a Node process of its own and reads
// the one JSON line it prints last: the child's peak memory is then the model's alone, and a client
// that is not a dependency of Retort (node-llama-cpp) is loaded only there.
import { spawn } from 'node:child_process';

export interface ChildOptions {
  /** Written to the child's stdin, then closed. */
  input?: string;
  timeoutMs?: number;
  /** Names the work in errors: 'peak memory of model.onnx'. */
  what: string;
}

export function runJsonChild<T>(script: string, args: readonly string[], o: ChildOptions): Promise<T> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script, ...args], {
      stdio: [o.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    let out = '',
      err = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    if (o.input !== undefined) {
      child.stdin!.on('error', () => {}); // a child that dies early reports through its exit code
      child.stdin!.end(o.input);
    }
    const timer = setTimeout(() => child.kill('SIGKILL'), o.timeoutMs ?? 120_000);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const line = out.trim().split('\n').at(-1) ?? '';
      if (code !== 0) {
        reject(
          new Error(
            `${o.what}: the measuring process ${signal ? `was killed (${signal})` : `exited with ${code}`}: ${err.trim().split('\n').slice(-3).join(' | ') || '(no output)'}`,
          ),
        );
        return;
      }
      try {
        resolve(JSON.parse(line) as T);
      } catch {
        reject(new Error(`${o.what}: the measuring process printed ${JSON.stringify(line)}, not JSON`));
      }
    });
  });
}
