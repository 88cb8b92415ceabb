import { fmtSeconds, type DemoResult } from '../demo/common.ts';
import { runG2pDemo } from '../demo/g2p.ts';
import { runLmDemo } from '../demo/lm.ts';
import { runSpamDemo } from '../demo/spam.ts';
import type { DemoValues } from './schema.ts';
import type { CommandContext } from '../command.ts';

export async function run({ values, io, json }: CommandContext<DemoValues>) {
  const opts = {
    out: values.out,
    quick: values.quick,
    seed: values.seed,
    threads: values.threads,
    log: (l: string) => io.err(l),
  };
  const r: DemoResult =
    values.task === 'spam'
      ? await runSpamDemo(opts)
      : values.task === 'g2p'
        ? await runG2pDemo(opts)
        : await runLmDemo(opts);
  const student = r.eval.models.find((m) => m.name === 'student')!;
  const baseline = r.eval.models.find((m) => m.name === 'baseline')!;
  if (!json) {
    const pct = (x: number | null) => (x === null ? '–' : `${(100 * x).toFixed(1)}%`);
    const q = (m: typeof student) =>
      r.task === 'g2p'
        ? `word exact match ${pct(m.task?.exactMatch ?? null)}, phoneme error rate ${pct(m.task?.tokenErrorRate ?? null)}`
        : r.task === 'lm'
          ? `perplexity ${m.quality.perplexity?.toFixed(2)}`
          : `accuracy ${pct(m.quality.accuracy)}, macro-F1 ${m.quality.macroF1?.toFixed(3)}`;
    io.out(
      [
        `Retort demo (${r.task}${r.quick ? ', quick' : ''}) finished in ${fmtSeconds(r.seconds)}.`,
        `Student: ${r.params.student.toLocaleString('en')} parameters, ${r.ratio.toFixed(1)}× fewer than the teacher's ${r.params.teacher.toLocaleString('en')}.`,
        `  distilled: ${q(student)}, top-1 agreement with the teacher ${pct(student.agreement?.top1 ?? null)}`,
        `  baseline:  ${q(baseline)}, top-1 agreement with the teacher ${pct(baseline.agreement?.top1 ?? null)}`,
        '',
        `report       ${r.paths.report}`,
        `evaluation   ${r.paths.eval}`,
        `student      ${r.paths.student}  (onnx/model.onnx, onnx/model_quantized.onnx, tokenizer.json)`,
        `browser demo ${r.web}`,
      ].join('\n'),
    );
  }
  return r;
}
