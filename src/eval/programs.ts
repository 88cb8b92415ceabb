// Inference programs for evaluation: a model's forward pass at one concrete shape. A big model's
// parameters are inputs fed from its one ParamStore, so the programs of every batch shape share one
// copy of the weights; a small model's are baked into each (src/runtime/weights.ts says why). The
// file written for the memory measurement bakes them in, as a deployed model is.
import { input, type Tensor } from '../graph/index.ts';
import { SequenceClassifier } from '../models/classifier/index.ts';
import type { DecoderModel } from '../models/types.ts';
import { writeOnnxFile } from '../onnx/index.ts';
import { lowerGraph } from '../onnx/lower.ts';
import {
  bakedWeights,
  OrtExecutor,
  ParamStore,
  type Executor,
  type HostTensor,
  type OrtCompileOptions,
  type Program,
  type WeightsMode,
} from '../runtime/index.ts';

export type EvalTask = 'lm' | 'classifier';
export type ScorableModel = DecoderModel | SequenceClassifier;
export type ParamSource = ParamStore | ReadonlyMap<string, HostTensor>;

export interface EvalModel {
  /** Names the model in tables and the report: 'teacher', 'student', 'baseline', ... */
  name: string;
  model: ScorableModel;
  params: ParamSource;
  /**
   * Exported ONNX files: their sizes are reported, and peak memory is measured on the fp32 one.
   * Absent: memory is measured on the evaluation graph written to a temporary file.
   */
  onnx?: { fp32?: string; int8?: string };
  /** The model's export folder (onnx/, gguf/): each file in it gets a size/quality row (language models). */
  exportDir?: string;
}

export const taskOf = (m: ScorableModel): EvalTask => (m instanceof SequenceClassifier ? 'classifier' : 'lm');

/** Width of the logits: vocabulary (LM) or number of labels (classifier). */
export const classesOf = (m: ScorableModel): number =>
  m instanceof SequenceClassifier ? m.config.numLabels : m.config.vocabSize;

export const paramValues = (p: ParamSource): ReadonlyMap<string, HostTensor> =>
  p instanceof ParamStore ? p.values : p;

/** Exact parameter count: the sum of the sizes of the parameters the model declares. */
export function paramCount(m: ScorableModel): number {
  let n = 0;
  for (const p of m.params.values()) n += p.size;
  return n;
}

/** The logits of a (B, T) batch: LM (B, T, V) from input_ids; classifier (B, L) from input_ids and attention_mask. */
export function inferenceOutputs(m: ScorableModel, b: number, t: number): Record<string, Tensor> {
  const ids = input('input_ids', [b, t], 'int64'); // (B, T)
  if (m instanceof SequenceClassifier)
    return { logits: m.forward(ids, { mask: input('attention_mask', [b, t], 'int64') }).logits }; // (B, L)
  return { logits: m.forward(ids).logits }; // (B, T, V)
}

function initializersOf(m: ScorableModel, params: ParamSource, who: string): Map<string, HostTensor['data']> {
  const values = paramValues(params);
  const out = new Map<string, HostTensor['data']>();
  for (const name of m.params.keys()) {
    const v = values.get(name);
    if (!v)
      throw new Error(
        `evaluate: model '${who}' has no value for parameter '${name}'; pass its ParamStore (trained, or loaded with loadHfModel)`,
      );
    out.set(name, v.data);
  }
  return out;
}

/** A compiled forward pass of one model at one shape; run() feeds what the executor did not bake. */
export class InferenceProgram {
  private constructor(
    readonly program: Program,
    private readonly params: ReadonlyMap<string, HostTensor>,
  ) {}

  static async create(
    em: EvalModel,
    b: number,
    t: number,
    o: { executor?: Executor; threads?: number; weights?: WeightsMode } = {},
  ): Promise<InferenceProgram> {
    const executor = o.executor ?? new OrtExecutor();
    const opts: OrtCompileOptions = {
      name: `eval_${em.name}_${b}x${t}`,
      threads: o.threads,
      initializers: bakedWeights(
        paramValues(em.params),
        initializersOf(em.model, em.params, em.name).keys(),
        o.weights,
      ),
    };
    return new InferenceProgram(await executor.compile(inferenceOutputs(em.model, b, t), opts), paramValues(em.params));
  }

  async logits(feeds: Record<string, HostTensor>): Promise<HostTensor> {
    const all: Record<string, HostTensor> = {};
    for (const spec of this.program.inputs) {
      const v = spec.kind === 'param' ? this.params.get(spec.name) : feeds[spec.name];
      if (!v)
        throw new Error(
          `evaluate: the batch has no '${spec.name}'; the model needs ${this.program.inputs
            .filter((s) => s.kind === 'input')
            .map((s) => s.name)
            .join(', ')}`,
        );
      all[spec.name] = v;
    }
    return (await this.program.run(all)).logits!;
  }
}

/**
 * Writes the forward pass at (1, T) with baked parameters as an ONNX file (standard ops only, an
 * external data file beside it for big models); returns its size on disk.
 */
export function writeInferenceOnnx(em: EvalModel, t: number, path: string): number {
  const lowered = lowerGraph(inferenceOutputs(em.model, 1, t), {
    name: `retort_${em.name}`,
    contribOps: false,
    initializers: initializersOf(em.model, em.params, em.name),
  });
  return writeOnnxFile(path, lowered.model).bytes;
}
