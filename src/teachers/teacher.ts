// The one interface distillation sees, whatever the teacher is: a Retort model in this process,
// an ONNX file, an LLM behind an OpenAI-compatible API, or an ensemble of those.
import type { Tokenizer } from '../models/tokenizers/tokenizer.ts';
import type { DecoderModel } from '../models/types.ts';
import type { HostTensor, ParamStore } from '../runtime/index.ts';

export interface ScoreRequest {
  /** (B, T) int64 token ids in the teacher's vocabulary. */
  ids: HostTensor;
  /** Return dense logits (B, T, V). */
  logits?: boolean;
  /** Return the k most likely next tokens per position with their log-probabilities (temperature 1). */
  topK?: number;
  /** Hidden states to return, by index into the model's hidden list (0 = embedding output). */
  hidden?: readonly number[];
  /** Attention probabilities to return, by layer. */
  attentions?: readonly number[];
}

export interface TopK {
  ids: HostTensor; // (B, T, k) int64, most likely first
  logprobs: HostTensor; // (B, T, k) float32
  /** (B, T, 1) float32: log of the mass outside the k entries, where the teacher knows it (Teacher.sparse.tail). */
  tail?: HostTensor;
}

/**
 * What a teacher's top-k results are, where they are not simply its k most likely tokens: an
 * offline store's sampled targets (drawn tokens with count / draws as their probabilities), and
 * whether each position's tail mass comes with them.
 */
export interface SparseInfo {
  targets: 'topk' | 'sampled';
  tail: boolean;
}

export interface ScoreResult {
  logits?: HostTensor; // (B, T, V)
  topk?: TopK;
  hidden?: HostTensor[]; // each (B, T, C)
  attentions?: HostTensor[]; // each (B, H, T, T)
}

export interface TeacherInfo {
  vocabSize: number;
  /** Number of transformer blocks and residual width, where known (hidden-state distillation needs them). */
  nLayers?: number;
  dModel?: number;
  nHeads?: number;
}

export interface Teacher {
  readonly kind: 'retort' | 'onnx' | 'http' | 'ensemble' | 'store';
  readonly name: string;
  /** Identifies weights and tokenizer: an offline store refuses outputs of a different fingerprint. */
  readonly fingerprint: string;
  readonly info: TeacherInfo;
  readonly tokenizer?: Tokenizer;
  readonly capabilities: { logits: boolean; topK: boolean; hidden: boolean; attentions: boolean };
  /** Absent: topK results are the k most likely tokens, without a tail. */
  readonly sparse?: SparseInfo;
  /** Why a capability is false and what to pass to get it, where the teacher knows (checkRequest's message). */
  readonly unavailable?: Partial<Record<keyof Teacher['capabilities'], string>>;
  score(req: ScoreRequest): Promise<ScoreResult>;
  /**
   * Present when the teacher is a Retort model in this process: distillation can then trace the
   * teacher's forward pass into the student's training graph with frozen weights (one run per step).
   */
  readonly local?: { model: DecoderModel; params: ParamStore };
}

export class TeacherError extends Error {
  override name = 'TeacherError';
}

/** What to do about a missing hidden-state capability, by teacher kind, when the teacher gives no reason of its own. */
const HIDDEN_HINT: Record<Teacher['kind'], string> = {
  retort: 'hidden-state distillation needs the model in this process',
  onnx: "name the hidden-state values: `source.hidden: [...]` in a run config, or the `hidden` option of OnnxTeacher.load ('auto' walks a pre-norm decoder's residual stream)",
  http: 'an API returns tokens and log-probs only; hidden-state distillation needs a Retort teacher (source.kind retort) or an ONNX teacher (source.kind onnx)',
  ensemble: 'an ensemble does not combine hidden states; distill hidden states from one Retort or ONNX teacher',
  store: 'the answer store holds no hidden states; score with a Retort or ONNX teacher to distill them',
};

/** Checks that a request asks only for what the teacher can give, with a message naming the gap and what to do. */
export function checkRequest(t: Teacher, req: ScoreRequest): void {
  const want = (cond: boolean, what: keyof Teacher['capabilities'], hint: string) => {
    if (cond && !t.capabilities[what])
      throw new TeacherError(`teacher '${t.name}' (${t.kind}) cannot return ${what}; ${t.unavailable?.[what] ?? hint}`);
  };
  want(!!req.logits, 'logits', 'use top-k targets (topK) instead');
  want(req.topK !== undefined, 'topK', 'request dense logits instead');
  want((req.hidden?.length ?? 0) > 0, 'hidden', HIDDEN_HINT[t.kind]);
  want(
    (req.attentions?.length ?? 0) > 0,
    'attentions',
    'attention distillation needs a Retort teacher or an ONNX teacher exposing attention outputs',
  );
  if (req.ids.dtype !== 'int64' || req.ids.shape.length !== 2) {
    throw new TeacherError(
      `teacher '${t.name}': ids must be int64 (B, T), got ${req.ids.dtype}[${req.ids.shape.join(', ')}]`,
    );
  }
}
