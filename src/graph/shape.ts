// Shape arithmetic shared by the op rules. Errors here are thrown at trace time, so they name
// the op and both shapes: a user sees the mistake on the line of model code that made it.
export class ShapeError extends Error {
  constructor(op: string, message: string) {
    super(`${op}: ${message}`);
    this.name = 'ShapeError';
  }
}

export const fmt = (s: readonly number[]): string => `[${s.join(', ')}]`;

export function broadcastShapes(op: string, a: readonly number[], b: readonly number[]): number[] {
  const rank = Math.max(a.length, b.length);
  const out = new Array<number>(rank);
  for (let i = 0; i < rank; i++) {
    const da = a[a.length - rank + i] ?? 1;
    const db = b[b.length - rank + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) {
      throw new ShapeError(
        op,
        `shapes ${fmt(a)} and ${fmt(b)} do not broadcast: dimension ${i} is ${da} vs ${db} (numpy rules: equal, or one of them 1)`,
      );
    }
    out[i] = da === 1 ? db : da;
  }
  return out;
}

export function normalizeAxis(op: string, axis: number, rank: number): number {
  const a = axis < 0 ? axis + rank : axis;
  if (!Number.isInteger(a) || a < 0 || a >= rank) {
    throw new ShapeError(op, `axis ${axis} is out of range for a tensor of rank ${rank} (use -${rank}..${rank - 1})`);
  }
  return a;
}

export function normalizeAxes(op: string, axes: readonly number[] | undefined, rank: number): number[] {
  if (axes === undefined) return [...Array(rank).keys()];
  const out = [...new Set(axes.map((a) => normalizeAxis(op, a, rank)))].sort((x, y) => x - y);
  return out;
}

export const sameShape = (a: readonly number[], b: readonly number[]): boolean =>
  a.length === b.length && a.every((d, i) => d === b[i]);
