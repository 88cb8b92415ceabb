// Iterates the 1-D lanes along one axis of a row-major array: the shape reference kernels of
// softmax and normalizations need.
export function forEachLane(
  shape: readonly number[],
  axis: number,
  fn: (base: number, stride: number, n: number) => void,
): void {
  const n = shape[axis]!;
  const inner = shape.slice(axis + 1).reduce((a, b) => a * b, 1);
  const outer = shape.slice(0, axis).reduce((a, b) => a * b, 1);
  for (let o = 0; o < outer; o++) for (let i = 0; i < inner; i++) fn(o * n * inner + i, inner, n);
}
