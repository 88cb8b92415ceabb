// Seeded randomness for data order, so a run's batches can be reproduced from its seed alone.
// One generator serves the whole project; it lives in the runtime layer (dropout, init).
export { rng32 as mulberry32, type Rng } from '../runtime/random.ts';
