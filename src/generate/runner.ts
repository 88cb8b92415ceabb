// Compiles a model's inference graphs once per shape and runs them. The weights of a big model are
// inputs of every program, fed from the one ParamStore, so however many shapes are compiled (prefill
// per prompt length, decode per batch and cache size) they exist once in memory; a small model's are
// baked into each program, which runs faster (src/runtime/weights.ts has the measurements).
// Parameters a program lists as inputs (shared weights, or an executor that never bakes, like the
// reference interpreter) are fed on every run.
import { input, type Tensor } from '../graph/index.ts';
import {
  bakedWeights,
  OrtExecutor,
  type Executor,
  type HostArray,
  type HostTensor,
  type OrtCompileOptions,
  type Program,
  type WeightsMode,
} from '../runtime/index.ts';
import type { DecoderModel, ParamValues } from './types.ts';

/** Keys and values per layer have shape (B, heads, S, headDim). */
export interface KvShape {
  layers: number;
  heads: number;
  headDim: number;
}

export interface RunnerOptions {
  /** Default: onnxruntime. */
  executor?: Executor;
  /** onnxruntime intra-op threads. */
  threads?: number;
  /**
   * Decode steps' pool threads spin between ops (default true): a step is ~125 ops of microseconds
   * each, and waking a sleeping thread for each cost ~20% of a batch-1 step here (bench/generate.ts).
   * false where other work in the process needs the cores between tokens.
   */
  spinDecode?: boolean;
  /**
   * 'shared': one copy of the weights, fed to every program. 'baked': a copy inside each compiled
   * program (faster steps, one copy per program; none can pass 2 GiB). 'auto' (default): baked up
   * to SHARE_WEIGHTS_ABOVE (64 MiB), shared above.
   */
  weights?: WeightsMode;
}

export class ModelRunner {
  private readonly programs = new Map<string, Promise<Program>>();
  private readonly executor: Executor;
  private readonly initializers?: Map<string, HostArray>;
  private kv?: KvShape;

  constructor(
    readonly model: DecoderModel,
    readonly params: ParamValues,
    private readonly o: RunnerOptions = {},
  ) {
    this.executor = o.executor ?? new OrtExecutor();
    for (const name of model.params.keys()) {
      if (!params.has(name))
        throw new Error(
          `generate: parameter '${name}' has no value; pass a ParamStore's values (ParamStore.init or a loaded checkpoint)`,
        );
    }
    this.initializers = bakedWeights(params, model.params.keys(), o.weights);
  }

  /**
   * The program for `key`, traced by `build` and compiled on first use. `spin`: the program runs
   * many tiny ops back to back (a decode step), so its pool threads wait spinning, not sleeping.
   */
  program(key: string, build: () => Record<string, Tensor>, spin = false): Promise<Program> {
    let p = this.programs.get(key);
    if (!p) {
      const opts: OrtCompileOptions = {
        name: key,
        threads: this.o.threads,
        initializers: this.initializers,
        spin: spin && this.o.spinDecode !== false,
      };
      p = this.executor.compile(build(), opts);
      this.programs.set(key, p);
      p.catch(() => this.programs.delete(key));
    }
    return p;
  }

  run(p: Program, feeds: Record<string, HostTensor>): Promise<Record<string, HostTensor>> {
    const all = { ...feeds };
    for (const spec of p.inputs) if (spec.kind === 'param') all[spec.name] = this.params.get(spec.name)!;
    return p.run(all);
  }

  /** Layer count and key/value head shape, read off one small trace's `present`. */
  kvShape(): KvShape {
    if (!this.kv) {
      const { present } = this.model.forward(input('input_ids', [1, 1], 'int64'));
      const k = present[0];
      if (k?.key.rank !== 4)
        throw new Error(
          'generate: the model returned no present keys of shape (B, heads, S, headDim); its forward must fill DecoderOutput.present',
        );
      this.kv = { layers: present.length, heads: k.key.shape[1]!, headDim: k.key.shape[3]! };
    }
    return this.kv;
  }
}
