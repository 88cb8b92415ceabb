// Stores served through the Teacher interface with a live fallback: the rows of a batch are looked
// up in the stores by their tokens, the rest scored by the teacher that labelled the stores. Results
// for a batch split across sources are put back together row by row. When the stores carry each
// position's tail mass, the live teacher's rows get theirs computed from their log-probs, so every
// row of a batch has one (for sampled stores, live rows are then exact top-k targets with their tail,
// which the loss reads by the same formula at temperature 1).
import { hostTensor, type HostTensor } from '../../runtime/index.ts';
import {
  checkRequest,
  TeacherError,
  type ScoreRequest,
  type ScoreResult,
  type SparseInfo,
  type Teacher,
} from '../../teachers/index.ts';
import { F16_MAX, type StoreTeacher, tailOf } from '../store/index.ts';

const rowKey = (ids: ArrayLike<number | bigint>, start: number, n: number): string => {
  let s = '';
  for (let i = 0; i < n; i++) s += `${ids[start + i]},`;
  return s;
};

/** Rows of a (B, T) batch, by index, as a smaller batch. */
function rowsOf(ids: HostTensor, rows: readonly number[]): HostTensor {
  const t = ids.shape[1]!;
  const src = ids.data as BigInt64Array;
  const out = new BigInt64Array(rows.length * t);
  rows.forEach((r, i) => out.set(src.subarray(r * t, (r + 1) * t), i * t));
  return hostTensor('int64', [rows.length, t], out);
}

/** Writes the rows of `part` (a result for `rows`) into `into` (a result for the whole batch). */
function scatterRows(into: HostTensor, part: HostTensor, rows: readonly number[]): void {
  const per = part.data.length / rows.length;
  // Typed as Float32Array for the compiler; int64 results are BigInt64Arrays and copy the same way.
  rows.forEach((r, i) =>
    (into.data as Float32Array).set((part.data as Float32Array).subarray(i * per, (i + 1) * per), r * per),
  );
}

/** A live result with the tail mass each position's top-k leaves out, (B, T, 1), from its log-probs. */
function withTail(r: ScoreResult): ScoreResult {
  if (!r.topk || r.topk.tail) return r;
  const [b, t, k] = r.topk.logprobs.shape as [number, number, number];
  const tail = tailOf(r.topk.logprobs.data as Float32Array, b * t, k).map((v) => Math.max(v, -F16_MAX));
  return { ...r, topk: { ...r.topk, tail: hostTensor('float32', [b, t, 1], tail) } };
}

function emptyLike(part: HostTensor, b: number): HostTensor {
  const shape = [b, ...part.shape.slice(1)];
  const n = shape.reduce((x, y) => x * y, 1);
  return hostTensor(part.dtype, shape, part.dtype === 'int64' ? new BigInt64Array(n) : new Float32Array(n));
}

/**
 * Stores served through the Teacher interface: each row is looked up in the stores (the training
 * examples', the held-out ones'), and rows none holds go to the live teacher that labelled them, when
 * one is given (else the error names the row).
 */
export class OfflineTeacher implements Teacher {
  readonly kind = 'store' as const;
  readonly name: string;
  readonly fingerprint: string;
  readonly info;
  readonly tokenizer;
  readonly capabilities;
  readonly sparse?: SparseInfo;
  /** Rows served from the stores and from the live teacher so far. */
  readonly served = { store: 0, live: 0 };
  private readonly keys: Set<string>[];

  constructor(
    private readonly stores: readonly { store: StoreTeacher; examples: readonly Int32Array[] }[],
    private readonly live?: Teacher,
  ) {
    const first = stores[0]?.store;
    if (!first) throw new TeacherError('OfflineTeacher: give at least one store');
    for (const { store } of stores) {
      if (store.fingerprint !== first.fingerprint)
        throw new TeacherError(
          `store '${store.name}' was labelled by teacher ${store.fingerprint}, the others by ${first.fingerprint}; serve one teacher's stores together`,
        );
    }
    for (const { store } of stores) {
      if (JSON.stringify(store.sparse) !== JSON.stringify(first.sparse))
        throw new TeacherError(
          `store '${store.name}' holds ${JSON.stringify(store.sparse)} targets, the others ${JSON.stringify(first.sparse)}; serve stores of one layout together`,
        );
    }
    this.sparse = first.sparse;
    if (live && live.fingerprint !== first.fingerprint)
      throw new TeacherError(
        `store '${first.name}' was labelled by teacher ${first.fingerprint}, not by '${live.name}' (${live.fingerprint}); it cannot fall back to that teacher`,
      );
    this.name = first.name;
    this.fingerprint = first.fingerprint;
    // The live teacher knows its depth and heads (layer maps need them); a store knows only its vocabulary and width.
    this.info = live?.info ?? first.info;
    this.tokenizer = live?.tokenizer;
    this.capabilities = first.capabilities;
    this.keys = stores.map(({ examples }) => new Set(examples.map((e) => rowKey(e, 0, e.length))));
  }

  async score(req: ScoreRequest): Promise<ScoreResult> {
    checkRequest(this, req);
    const [b, t] = req.ids.shape as [number, number];
    const groups = new Map<number, number[]>(); // source (store index, or −1 for live) → rows
    for (let r = 0; r < b; r++) {
      const key = rowKey(req.ids.data as BigInt64Array, r * t, t);
      const found = this.keys.findIndex((k) => k.has(key));
      const source = found >= 0 ? found : this.live ? -1 : 0; // no live teacher: the first store refuses the row, naming it
      groups.set(source, [...(groups.get(source) ?? []), r]);
    }
    for (const [source, rows] of groups) this.served[source < 0 ? 'live' : 'store'] += rows.length;
    const ask = async (source: number, ids: HostTensor) => {
      if (source >= 0) return this.stores[source]!.store.score({ ...req, ids });
      const r = await this.live!.score({ ...req, ids });
      return this.sparse?.tail ? withTail(r) : r;
    };
    if (groups.size === 1) {
      const [source] = groups.keys();
      return ask(source!, req.ids);
    }
    const parts = await Promise.all(
      [...groups].map(async ([source, rows]) => ({ rows, r: await ask(source, rowsOf(req.ids, rows)) })),
    );
    const merge = (pick: (r: ScoreResult) => HostTensor) => {
      const out = emptyLike(pick(parts[0]!.r), b);
      for (const { rows, r } of parts) scatterRows(out, pick(r), rows);
      return out;
    };
    const res: ScoreResult = {};
    const first = parts[0]!.r;
    if (first.topk)
      res.topk = {
        ids: merge((r) => r.topk!.ids),
        logprobs: merge((r) => r.topk!.logprobs),
        ...(first.topk.tail ? { tail: merge((r) => r.topk!.tail!) } : {}),
      };
    if (first.hidden) res.hidden = first.hidden.map((_, i) => merge((r) => r.hidden![i]!));
    return res;
  }
}
