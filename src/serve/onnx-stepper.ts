// Generation steps over an ONNX decoder file (transformers.js names), behind src/generate's Stepper
// seam. Prompts are left-padded to one length with attention_mask 0 on the padding; positions come
// from the mask. Files that return present.{i}.key/value get them fed back as past_key_values (the
// session's own output tensors, no copy); files without a cache re-run the whole sequence per token.
import type * as ort from 'onnxruntime-node';
import type { Stepper } from '../generate/index.ts';
import { hostTensor, type HostTensor } from '../runtime/index.ts';
import { fromOrt, type OnnxSession } from '../teachers/onnx/index.ts';

/** Logits of the last position of each row: (B, T, V) → (B, V). */
function lastPosition(logits: HostTensor): Float32Array {
  const [b, t, v] = logits.shape as [number, number, number];
  const x = logits.data as Float32Array;
  if (t === 1) return x;
  const out = new Float32Array(b * v);
  for (let r = 0; r < b; r++) out.set(x.subarray((r * t + t - 1) * v, (r * t + t) * v), r * v);
  return out;
}

export class OnnxStepper implements Stepper {
  /** (B, S) mask over every slot fed so far (padding 0). */
  private mask: number[][];
  /** Without a cache: every row's slots so far (left-padded). */
  private ids: number[][];
  private past?: Record<string, ort.Tensor>;

  constructor(
    private readonly session: OnnxSession,
    prompts: readonly (readonly number[])[],
    padId: number,
  ) {
    const T = Math.max(...prompts.map((p) => p.length));
    this.ids = prompts.map((p) => [...new Array<number>(T - p.length).fill(padId), ...p]);
    this.mask = prompts.map((p) => [
      ...new Array<number>(T - p.length).fill(0),
      ...new Array<number>(p.length).fill(1),
    ]);
  }

  private get cached(): boolean {
    return this.session.io.present.length > 0;
  }

  async start(): Promise<Float32Array> {
    return this.run(this.ids);
  }

  async next(tokens: readonly number[]): Promise<Float32Array> {
    tokens.forEach((t, r) => {
      this.ids[r]!.push(t);
      this.mask[r]!.push(1);
    });
    return this.run(this.cached ? tokens.map((t) => [t]) : this.ids);
  }

  private async run(rows: number[][]): Promise<Float32Array> {
    const B = rows.length,
      T = rows[0]!.length,
      S = this.mask[0]!.length;
    const ids = hostTensor('int64', [B, T], rows.flat());
    const mask = hostTensor('int64', [B, S], this.mask.flat());
    const { io } = this.session;
    const out = await this.session.run({ ids, mask, past: this.past }, [io.logits.name, ...io.present]);
    if (this.cached) this.past = Object.fromEntries(io.past.map((p, i) => [p.name, out[io.present[i]!]!]));
    return lastPosition(fromOrt(out[io.logits.name]!));
  }
}
