// Picks the executor: onnxruntime when its native binding loads, else the reference interpreter
// (slow, but every graph still runs: a platform without onnxruntime binaries can still train and
// test). RETORT_EXECUTOR=reference forces the interpreter, e.g. to bisect a numeric difference.
import type { Executor } from './program.ts';
import { ReferenceExecutor } from './reference.ts';

let chosen: Promise<Executor> | null = null;

async function choose(): Promise<Executor> {
  if (process.env.RETORT_EXECUTOR === 'reference') return new ReferenceExecutor();
  try {
    const { OrtExecutor } = await import('./ort.ts');
    return new OrtExecutor();
  } catch (e) {
    process.emitWarning(
      `onnxruntime-node could not be loaded (${(e as Error).message.split('\n')[0]}); falling back to the reference interpreter, which is much slower`,
    );
    return new ReferenceExecutor();
  }
}

export function defaultExecutor(): Promise<Executor> {
  chosen ??= choose();
  return chosen;
}
