// A child process for the SIGKILL test: fills an answer store with fake answers, one prompt per
// batch, forever slower than the parent's kill timer. argv: dir, prompt count.
import { AnswerStore } from './store.ts';
import { fillAnswerStore } from './fill.ts';

const [dir, count] = [process.argv[2]!, Number(process.argv[3])];
const store = AnswerStore.open(dir, { teacher: 't', tokenizer: 'v', settings: { n: 2 } });
const prompts = Array.from({ length: count }, (_, i) => ({ id: `p${i}` }));
await fillAnswerStore(
  store,
  prompts,
  async (batch) => {
    await new Promise((r) => setTimeout(r, 5));
    return batch.map((p) => [
      { text: `answer to ${p.id}`, ids: [1, 2, 3], finish: 'stop' as const },
      { text: `another for ${p.id}`, ids: [4], finish: 'length' as const },
    ]);
  },
  { batch: 3, onProgress: (done) => process.stdout.write(`${done}\n`) },
);
