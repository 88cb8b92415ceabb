// Types of web/lm.js for the TypeScript tests that run it under onnxruntime-node.
export interface OrtLike {
  Tensor: new (type: 'int64' | 'float32', data: BigInt64Array | Float32Array, dims: readonly number[]) => unknown;
}
export interface SessionLike {
  readonly inputNames: readonly string[];
  run(feeds: Record<string, unknown>): Promise<Record<string, { data: unknown; dims: readonly number[] }>>;
}
export function decoderShape(config: Record<string, unknown>): {
  layers: number;
  kvHeads: number;
  headDim: number;
  maxPositions: number;
};
export function isClassifier(config: Record<string, unknown>): boolean;
export function argmaxRow(data: ArrayLike<number>, row: number, n: number): number;
export function greedyGenerate(
  ort: OrtLike,
  session: SessionLike,
  config: Record<string, unknown>,
  promptIds: readonly number[],
  o?: { maxNewTokens?: number; eosTokenId?: number | number[]; onToken?: (id: number) => void },
): Promise<number[]>;
export function classify(
  ort: OrtLike,
  session: SessionLike,
  config: Record<string, unknown>,
  ids: readonly number[],
  padId?: number,
): Promise<{ logits: number[]; probs: number[]; label: number; name: string }>;
