// The labelled datasets known by name: SpamAssassin emails as ham/spam texts.
import { emailAsText } from './corpus.ts';
import type { LabelledText } from './labelled.ts';
import { loadSpamAssassin } from './spam-assassin.ts';
import { seededSplit } from './split.ts';

export const SPAM_LABELS = ['ham', 'spam'] as const;

/** SpamAssassin as labelled texts (ham 0, spam 1), split by a seeded shuffle: the same split every run. */
export function spamSplit(o: { validationFraction: number; seed: number }): {
  train: LabelledText[];
  validation: LabelledText[];
} {
  const items = loadSpamAssassin().map((e) => ({ text: emailAsText(e), label: e.label === 'spam' ? 1 : 0 }));
  return seededSplit(items, o);
}
