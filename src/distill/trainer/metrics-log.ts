// The run's record: metrics.jsonl, one JSON object per line (a step, an evaluation, a checkpoint,
// a resume, an error), each with its wall time. Appended line by line so a crash loses at most the
// line being written; on resume the lines after the checkpoint's step are dropped, so the file
// reads as one continuous run. The folder is made at the first line, so a run refused before it
// writes anything leaves nothing behind.
import { appendFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { atomicWriteFile } from '../../io/atomic-write.ts';

export type MetricsRecord = {
  type: 'step' | 'eval' | 'checkpoint' | 'start' | 'resume' | 'stop' | 'error';
  step: number;
} & Record<string, unknown>;

export class MetricsLog {
  constructor(readonly path: string) {}

  write(record: MetricsRecord): void {
    mkdirSync(dirname(this.path), { recursive: true });
    appendFileSync(this.path, `${JSON.stringify({ ...record, time: new Date().toISOString() })}\n`);
  }

  /** Drops every line recorded after `step` (and a torn last line), rewriting the file atomically. */
  truncateAfter(step: number): void {
    if (!existsSync(this.path)) return;
    const kept: string[] = [];
    for (const line of readFileSync(this.path, 'utf8').split('\n')) {
      if (!line.trim()) continue;
      let rec: { step?: unknown };
      try {
        rec = JSON.parse(line) as { step?: unknown };
      } catch {
        continue; // the line a crash cut short
      }
      if (typeof rec.step === 'number' && rec.step <= step) kept.push(line);
    }
    atomicWriteFile(this.path, kept.map((l) => `${l}\n`).join(''));
  }

  /** Every record in the file (for tests and tools). */
  static read(path: string): MetricsRecord[] {
    if (!existsSync(path)) return [];
    return readFileSync(path, 'utf8')
      .split('\n')
      .filter((l) => l.trim())
      .map((l) => JSON.parse(l) as MetricsRecord);
  }
}
