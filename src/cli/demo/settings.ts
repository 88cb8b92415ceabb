// The demo's settings, one record per task and size. `full` is sized to finish in well under 15
// minutes on 2 CPU cores, `quick` (CI) in well under 2; both run the same code path.
// RETORT_DEMO_SETTINGS='{"studentSteps": 300}' merges a JSON object over the chosen record (for
// tuning runs; the tests use the records as they are).

export interface ModelSize {
  dModel: number;
  nLayers: number;
  nHeads: number;
}

export interface KdSettings {
  /** Weight of the soft term; 1 − alpha goes to cross-entropy on the data (Hinton et al. 2015). */
  alpha: number;
  temperature: number;
  /** Weight of the hidden-state term (0: none). */
  hiddenWeight: number;
}

export interface CommonSettings {
  vocab: number;
  /** Tokens per row (LM) or padded length (classifier). */
  seq: number;
  batch: number;
  teacher: ModelSize;
  student: ModelSize;
  teacherSteps: number;
  /** Steps of the distilled student and of its baseline (the same for both). */
  studentSteps: number;
  teacherLr: number;
  studentLr: number;
  warmupSteps: number;
  kd: KdSettings;
  evalEvery: number;
  evalBatches: number;
  /** Latency runs (after 3 warmup runs). */
  speedRuns: number;
  /** The student must be at least this many times smaller than the teacher. */
  minRatio: number;
}

export interface LmSettings extends CommonSettings {
  /** SOTU addresses from trainFrom to trainTo train; validFrom to validTo are held out. */
  trainFrom: number;
  trainTo: number;
  validFrom: number;
  validTo: number;
  /** Characters of training text the BPE is learned from (the first ones). */
  bpeChars: number;
  /** Greedy continuations in the report. */
  samples: number;
  sampleTokens: number;
}

export interface SpamSettings extends CommonSettings {
  validationFraction: number;
  /** Training emails used (the first of the seeded split). */
  trainExamples: number;
  /** Emails the BPE is learned from. */
  bpeTexts: number;
  samples: number;
}

export const lmSettings: Record<'full' | 'quick', LmSettings> = {
  full: {
    trainFrom: 1946,
    trainTo: 1989,
    validFrom: 1990,
    validTo: 2021,
    bpeChars: 1_500_000,
    vocab: 1024,
    seq: 64,
    batch: 16,
    teacher: { dModel: 256, nLayers: 4, nHeads: 4 },
    student: { dModel: 64, nLayers: 2, nHeads: 2 },
    teacherSteps: 400,
    studentSteps: 300,
    teacherLr: 1.5e-3,
    studentLr: 6e-3,
    warmupSteps: 30,
    kd: { alpha: 0.9, temperature: 1, hiddenWeight: 0.1 },
    evalEvery: 100,
    evalBatches: 16,
    speedRuns: 20,
    minRatio: 8,
    samples: 4,
    sampleTokens: 24,
  },
  quick: {
    trainFrom: 1980,
    trainTo: 1999,
    validFrom: 2000,
    validTo: 2021,
    bpeChars: 400_000,
    vocab: 512,
    seq: 32,
    batch: 16,
    teacher: { dModel: 128, nLayers: 2, nHeads: 4 },
    student: { dModel: 32, nLayers: 1, nHeads: 2 },
    teacherSteps: 300,
    studentSteps: 120,
    teacherLr: 3e-3,
    studentLr: 1e-2,
    warmupSteps: 10,
    kd: { alpha: 0.9, temperature: 1, hiddenWeight: 0.1 },
    evalEvery: 40,
    evalBatches: 8,
    speedRuns: 10,
    minRatio: 8,
    samples: 3,
    sampleTokens: 12,
  },
};

export const spamSettings: Record<'full' | 'quick', SpamSettings> = {
  full: {
    validationFraction: 0.2,
    trainExamples: 5000,
    bpeTexts: 2000,
    vocab: 1024,
    seq: 96,
    batch: 16,
    teacher: { dModel: 128, nLayers: 4, nHeads: 4 },
    student: { dModel: 32, nLayers: 1, nHeads: 2 },
    teacherSteps: 400,
    studentSteps: 300,
    teacherLr: 1e-3,
    studentLr: 3e-3,
    warmupSteps: 20,
    kd: { alpha: 0.7, temperature: 2, hiddenWeight: 0 },
    evalEvery: 50,
    evalBatches: 40,
    speedRuns: 20,
    minRatio: 8,
    samples: 8,
  },
  quick: {
    validationFraction: 0.2,
    trainExamples: 2000,
    bpeTexts: 600,
    vocab: 512,
    seq: 64,
    batch: 16,
    teacher: { dModel: 64, nLayers: 2, nHeads: 4 },
    student: { dModel: 16, nLayers: 1, nHeads: 2 },
    teacherSteps: 200,
    studentSteps: 150,
    teacherLr: 3e-3,
    studentLr: 6e-3,
    warmupSteps: 10,
    kd: { alpha: 0.7, temperature: 2, hiddenWeight: 0 },
    evalEvery: 50,
    evalBatches: 10,
    speedRuns: 10,
    minRatio: 8,
    samples: 6,
  },
};

export interface G2pSettings extends CommonSettings {
  /** Words with their pronunciations the teacher and the baseline train on. */
  labelledWords: number;
  /** More training words given without pronunciations: the teacher answers them for the student (teacherAnswers). */
  unlabelledWords: number;
  /** Held-out words the three models answer in the evaluation (none of them is trained on). */
  testWords: number;
  /** Longest pronunciation generated, in tokens. */
  maxNewTokens: number;
}

export const g2pSettings: Record<'full' | 'quick', G2pSettings> = {
  full: {
    labelledWords: 8000,
    unlabelledWords: 24000,
    testWords: 1600,
    vocab: 768,
    seq: 32,
    batch: 32,
    teacher: { dModel: 128, nLayers: 4, nHeads: 4 },
    student: { dModel: 40, nLayers: 2, nHeads: 2 },
    teacherSteps: 2400,
    studentSteps: 2000,
    teacherLr: 2e-3,
    studentLr: 4e-3,
    warmupSteps: 50,
    kd: { alpha: 0.8, temperature: 1, hiddenWeight: 0 },
    evalEvery: 300,
    evalBatches: 8,
    speedRuns: 10,
    minRatio: 8,
    maxNewTokens: 24,
  },
  quick: {
    labelledWords: 1500,
    unlabelledWords: 1500,
    testWords: 64,
    vocab: 512,
    seq: 32,
    batch: 32,
    teacher: { dModel: 64, nLayers: 2, nHeads: 4 },
    student: { dModel: 16, nLayers: 1, nHeads: 2 },
    teacherSteps: 150,
    studentSteps: 100,
    teacherLr: 4e-3,
    studentLr: 8e-3,
    warmupSteps: 10,
    kd: { alpha: 0.5, temperature: 1, hiddenWeight: 0 },
    evalEvery: 50,
    evalBatches: 4,
    speedRuns: 5,
    minRatio: 8,
    maxNewTokens: 20,
  },
};

/** The chosen record with RETORT_DEMO_SETTINGS merged over it (objects merge one level deep). */
export function withOverrides<T extends object>(base: T, env = process.env.RETORT_DEMO_SETTINGS): T {
  if (!env) return base;
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(env) as Record<string, unknown>;
  } catch (err) {
    throw new Error(`RETORT_DEMO_SETTINGS is not JSON (${(err as Error).message})`);
  }
  const out: Record<string, unknown> = { ...(base as Record<string, unknown>) };
  for (const [k, v] of Object.entries(o)) {
    if (!(k in base))
      throw new Error(`RETORT_DEMO_SETTINGS: unknown setting '${k}'; known: ${Object.keys(base).join(', ')}`);
    const cur = out[k];
    out[k] = cur && typeof cur === 'object' && v && typeof v === 'object' ? { ...cur, ...v } : v;
  }
  return out as T;
}
