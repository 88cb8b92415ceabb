// Training progress for people. On a terminal: one line, redrawn in place (at most every
// `throttleMs`), with a bar, the step, each loss term, the rate and an ETA. Anywhere else (CI logs,
// pipes, files): a plain line every `every` steps, since carriage returns make a mess of logs.
// The JSONL metrics file, not this, is the record of a run.

export interface ProgressStream {
  write(s: string): unknown;
  /** True for a terminal (process.stderr.isTTY). */
  isTTY?: boolean;
  /** Terminal width; lines are cut to it so a redraw never wraps. */
  columns?: number;
}

export interface ProgressOptions {
  /** Default process.stderr. */
  stream?: ProgressStream;
  /** Off a terminal, print every this many steps (and the first and last). Default 10. */
  every?: number;
  /** On a terminal, redraw at most this often. Default 100 ms. */
  throttleMs?: number;
  /** Bar width in characters. Default 20. */
  barWidth?: number;
  /** Clock in ms (tests pass a fake one). Default performance.now. */
  now?: () => number;
}

export interface ProgressUpdate {
  /** Steps completed. */
  step: number;
  loss: number;
  /** Loss terms (distillation components), shown after the total. */
  terms?: Record<string, number>;
  lr?: number;
}

/** 75 → '1m15s', 3725 → '1h02m'. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '?';
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

const num = (x: number) => (Math.abs(x) >= 1e4 || (x !== 0 && Math.abs(x) < 1e-3) ? x.toExponential(2) : x.toFixed(4));

export class Progress {
  private readonly stream: ProgressStream;
  private readonly tty: boolean;
  private readonly every: number;
  private readonly throttleMs: number;
  private readonly barWidth: number;
  private readonly now: () => number;
  private total = 0;
  private startStep = 0;
  private startTime = 0;
  private lastDraw = -Infinity;
  private last?: ProgressUpdate;
  /** Whether a bar is on screen (so a message must clear it first). */
  private drawn = false;

  constructor(o: ProgressOptions = {}) {
    this.stream = o.stream ?? process.stderr;
    this.tty = this.stream.isTTY === true;
    this.every = Math.max(1, o.every ?? 10);
    this.throttleMs = o.throttleMs ?? 100;
    this.barWidth = o.barWidth ?? 20;
    this.now = o.now ?? (() => performance.now());
  }

  /** Begins a run of `total` steps, `startStep` of them already done (a resume): the rate counts only this session's steps. */
  start(total: number, startStep = 0): void {
    this.total = total;
    this.startStep = startStep;
    this.startTime = this.now();
    this.lastDraw = -Infinity;
  }

  update(u: ProgressUpdate): void {
    this.last = u;
    const t = this.now();
    if (this.tty) {
      if (t - this.lastDraw < this.throttleMs && u.step !== this.total) return;
      this.lastDraw = t;
      this.draw(u, t);
    } else if (u.step % this.every === 0 || u.step === this.total || u.step === this.startStep + 1) {
      this.stream.write(`${this.plainLine(u, t)}\n`);
    }
  }

  /** A line of its own (evaluation results, checkpoints): on a terminal it clears the bar and redraws it below. */
  message(line: string): void {
    if (this.tty && this.drawn) {
      this.stream.write(`\r\x1b[2K${line}\n`);
      this.drawn = false;
      if (this.last) this.draw(this.last, this.now());
    } else {
      this.stream.write(`${line}\n`);
    }
  }

  /** Leaves the final bar on screen and moves to the next line. */
  finish(): void {
    if (this.tty && this.last) this.draw(this.last, this.now());
    if (this.tty && this.drawn) this.stream.write('\n');
    this.drawn = false;
  }

  private rate(u: ProgressUpdate, t: number): { perSec: number; eta: number } {
    const done = u.step - this.startStep;
    const secs = (t - this.startTime) / 1000;
    const perSec = done > 0 && secs > 0 ? done / secs : NaN;
    return { perSec, eta: (this.total - u.step) / perSec };
  }

  private losses(u: ProgressUpdate): string {
    return [`loss ${num(u.loss)}`, ...Object.entries(u.terms ?? {}).map(([k, v]) => `${k} ${num(v)}`)].join(' ');
  }

  private draw(u: ProgressUpdate, t: number): void {
    const frac = this.total > 0 ? Math.min(1, u.step / this.total) : 0;
    const filled = Math.round(frac * this.barWidth);
    const bar = '█'.repeat(filled) + '░'.repeat(this.barWidth - filled);
    const { perSec, eta } = this.rate(u, t);
    const parts = [
      `${bar} ${u.step}/${this.total} ${Math.floor(frac * 100)}%`,
      this.losses(u),
      ...(u.lr !== undefined ? [`lr ${u.lr.toExponential(2)}`] : []),
      `${Number.isFinite(perSec) ? perSec.toFixed(1) : '?'} it/s`,
      `ETA ${formatDuration(eta)}`,
    ];
    let line = parts.join(' | ');
    const width = (this.stream.columns ?? 120) - 1;
    if (line.length > width) line = `${line.slice(0, Math.max(0, width - 1))}…`;
    this.stream.write(`\r\x1b[2K${line}`);
    this.drawn = true;
  }

  private plainLine(u: ProgressUpdate, t: number): string {
    const pct = this.total > 0 ? Math.floor((100 * u.step) / this.total) : 0;
    const { perSec, eta } = this.rate(u, t);
    const lr = u.lr !== undefined ? ` lr ${u.lr.toExponential(2)}` : '';
    const speed = Number.isFinite(perSec) ? ` | ${perSec.toFixed(1)} steps/s, ETA ${formatDuration(eta)}` : '';
    return `step ${u.step}/${this.total} (${pct}%) ${this.losses(u)}${lr}${speed}`;
  }
}
