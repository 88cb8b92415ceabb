// The onnxruntime executor: lowers a graph to ONNX once, caches the session by a hash of the model's
// bytes (its signature), and runs it with typed arrays handed over without conversion. A program
// keeps its session, never the bytes: onnxruntime holds its own copy of whatever they baked in.
import { createHash } from 'node:crypto';
import { availableParallelism } from 'node:os';
import * as ort from 'onnxruntime-node';
import type { Tensor } from '../graph/index.ts';
import { encodeModel } from '../onnx/index.ts';
import { lowerGraph, type IoSpec, type LowerOptions } from '../onnx/lower.ts';
import type { HostTensor } from './host.ts';
import { completeFeeds, type CompileOptions, type Executor, type Program, type RunOptions } from './program.ts';

const ORT_TYPE = { float32: 'float32', float64: 'float64', int64: 'int64', int32: 'int32', bool: 'bool' } as const;

export interface OrtCompileOptions extends CompileOptions, Pick<LowerOptions, 'initializers' | 'contribOps'> {}

export interface OrtExecutorOptions {
  /**
   * Turns on onnxruntime's per-node profiling in every session this executor creates: each session
   * writes `{profile}_{date}_{time}.json` (Chrome trace events, one per node run) when
   * endProfiling() is called. For finding where a program's time goes; it slows every run a little.
   */
  profile?: string;
}

export function defaultThreads(): number {
  const env = Number(process.env.RETORT_THREADS);
  return Number.isInteger(env) && env > 0 ? env : Math.min(availableParallelism(), 8);
}

// One ort.Tensor per host array, made on first use and shared by every program and run that feeds
// it: weights fed as inputs (a model's parameters, read in place by onnxruntime, never copied) are
// wrapped once, not once per run. Weak keys: an array's wrapper goes when the array does.
const wrappers = new WeakMap<HostTensor['data'], ort.Tensor>();

function ortTensor(t: HostTensor): ort.Tensor {
  const hit = wrappers.get(t.data);
  if (
    hit &&
    hit.type === ORT_TYPE[t.dtype] &&
    hit.dims.length === t.shape.length &&
    hit.dims.every((d, i) => d === t.shape[i])
  )
    return hit;
  const w = new ort.Tensor(ORT_TYPE[t.dtype], t.data as never, t.shape);
  wrappers.set(t.data, w);
  return w;
}

export class OrtProgram implements Program {
  constructor(
    readonly session: ort.InferenceSession,
    readonly inputs: readonly IoSpec[],
    readonly outputs: readonly IoSpec[],
  ) {}

  async run(feeds: Record<string, HostTensor>, opts?: RunOptions): Promise<Record<string, HostTensor>> {
    const all = completeFeeds(this.inputs, feeds, opts);
    const ortFeeds: Record<string, ort.Tensor> = {};
    for (const spec of this.inputs) ortFeeds[spec.name] = ortTensor(all[spec.name]!);
    const into = opts?.into;
    const fetches: Record<string, ort.Tensor | null> = {};
    for (const spec of this.outputs) {
      const buf = into?.[spec.name];
      fetches[spec.name] = buf ? ortTensor(buf) : null;
    }
    const res = await this.session.run(ortFeeds, fetches as ort.InferenceSession.FetchesType);
    const out: Record<string, HostTensor> = {};
    for (const spec of this.outputs) {
      const buf = into?.[spec.name];
      const t = res[spec.name]!;
      out[spec.name] = buf ?? { dtype: spec.dtype, shape: [...t.dims], data: t.data as HostTensor['data'] };
    }
    return out;
  }
}

export class OrtExecutor implements Executor {
  readonly name = 'onnxruntime';
  private readonly sessions = new Map<string, Promise<ort.InferenceSession>>();

  constructor(private readonly o: OrtExecutorOptions = {}) {}

  async compile(outputs: Record<string, Tensor>, opts: OrtCompileOptions = {}): Promise<Program> {
    const lowered = lowerGraph(outputs, {
      name: opts.name,
      initializers: opts.initializers,
      contribOps: opts.contribOps,
    });
    const bytes = encodeModel(lowered.model);
    const threads = opts.threads ?? defaultThreads();
    const spin = opts.spin ?? process.env.RETORT_ORT_SPIN === '1';
    const key = createHash('sha256').update(bytes).update(`threads=${threads} spin=${spin}`).digest('hex');
    let session = this.sessions.get(key);
    if (!session) {
      session = ort.InferenceSession.create(bytes, {
        graphOptimizationLevel: 'all',
        executionMode: 'sequential',
        intraOpNumThreads: threads,
        interOpNumThreads: 1,
        enableCpuMemArena: true,
        // The memory pattern is planned after the first run and allocated beside the arena chunks
        // that run already holds, doubling peak memory for training graphs; the arena alone
        // reuses its chunks run after run at the same speed.
        enableMemPattern: false,
        // Idle pool threads spin by default; on a busy machine they steal the cores the working
        // threads need, so only programs that ask (opts.spin, RETORT_ORT_SPIN=1) spin.
        extra: { session: { intra_op: { allow_spinning: spin ? '1' : '0' } } },
        ...(this.o.profile === undefined ? {} : { enableProfiling: true, profileFilePrefix: this.o.profile }),
      });
      this.sessions.set(key, session);
      session.catch(() => this.sessions.delete(key));
    }
    return new OrtProgram(await session, lowered.inputs, lowered.outputs);
  }

  /** Ends profiling in every session (see OrtExecutorOptions.profile), so each writes its file; a no-op without it. */
  async endProfiling(): Promise<void> {
    if (this.o.profile === undefined) return;
    for (const s of this.sessions.values()) (await s).endProfiling();
  }
}
