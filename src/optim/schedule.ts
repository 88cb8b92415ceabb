// Learning-rate schedules: linear warmup, then cosine or linear decay to a floor.
import { z } from 'zod';

export const scheduleSchema = z.object({
  /** Peak learning rate, reached at the end of warmup. */
  lr: z.number().positive({ message: 'lr must be a positive number, e.g. 3e-4' }),
  /** Steps of linear warmup from 0 to lr. */
  warmupSteps: z.number().int().nonnegative().default(0),
  /** Total steps of the run; decay ends here. */
  totalSteps: z.number().int().positive({ message: 'totalSteps must be a positive integer' }),
  decay: z.enum(['cosine', 'linear', 'constant']).default('cosine'),
  /** Final learning rate as a fraction of lr. */
  minLrRatio: z.number().min(0).max(1).default(0.1),
});
export type Schedule = z.input<typeof scheduleSchema>;

export function lrAt(schedule: Schedule, step: number): number {
  const s = scheduleSchema.parse(schedule);
  if (step < s.warmupSteps) return (s.lr * (step + 1)) / s.warmupSteps;
  if (s.decay === 'constant') return s.lr;
  const span = Math.max(1, s.totalSteps - s.warmupSteps);
  const progress = Math.min(1, (step - s.warmupSteps) / span);
  const floor = s.lr * s.minLrRatio;
  const shape = s.decay === 'cosine' ? 0.5 * (1 + Math.cos(Math.PI * progress)) : 1 - progress;
  return floor + (s.lr - floor) * shape;
}
