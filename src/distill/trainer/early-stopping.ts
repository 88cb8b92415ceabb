// Which evaluation is the best so far, and when to stop because none has improved for a while
// (Prechelt 1998, "Early stopping — but when?"). The state is plain JSON, saved in checkpoints.

export interface MonitorOptions {
  /** loss, accuracy, perplexity, or term.{name}. Default 'loss'. */
  metric?: string;
  /** Whether lower or higher is better. Default: 'max' for accuracy, 'min' for the rest. */
  mode?: 'min' | 'max';
  /** An evaluation must beat the best by more than this to count as an improvement. Default 0. */
  minDelta?: number;
  /** Stop after this many evaluations in a row without improvement; absent: never stop early. */
  patience?: number;
}

export interface MonitorState {
  best: number | null;
  bestStep: number | null;
  /** Evaluations since the last improvement. */
  stale: number;
}

export class Monitor {
  readonly metric: string;
  readonly mode: 'min' | 'max';
  readonly minDelta: number;
  readonly patience?: number;
  state: MonitorState = { best: null, bestStep: null, stale: 0 };

  constructor(o: MonitorOptions = {}) {
    this.metric = o.metric ?? 'loss';
    this.mode = o.mode ?? (this.metric === 'accuracy' ? 'max' : 'min');
    this.minDelta = o.minDelta ?? 0;
    if (o.patience !== undefined && !(Number.isInteger(o.patience) && o.patience >= 1)) {
      throw new RangeError(
        `earlyStopping.patience must be a positive integer (evaluations without improvement), got ${o.patience}`,
      );
    }
    this.patience = o.patience;
  }

  /** Records an evaluation; returns whether it is a new best. NaN never is. */
  observe(value: number, step: number): boolean {
    const { best } = this.state;
    const better =
      Number.isFinite(value) &&
      (best === null || (this.mode === 'min' ? value < best - this.minDelta : value > best + this.minDelta));
    if (better) this.state = { best: value, bestStep: step, stale: 0 };
    else this.state = { ...this.state, stale: this.state.stale + 1 };
    return better;
  }

  get shouldStop(): boolean {
    return this.patience !== undefined && this.state.stale >= this.patience;
  }
}
