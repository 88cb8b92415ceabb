// The labelled datasets the CLI knows by name: SpamAssassin emails as ham/spam texts.
import { loadSpamAssassin } from '../data/spam-assassin.ts';
import { seededSplit } from '../data/split.ts';
import type { LabelledText } from '../distill/classify/index.ts';
import { emailAsText } from './corpus.ts';

export const SPAM_LABELS = ['ham', 'spam'] as const;

/** SpamAssassin as labelled texts (ham 0, spam 1), split by a seeded shuffle: the same split every run. */
export function spamSplit(o: { validationFraction: number; seed: number }): { train: LabelledText[]; validation: LabelledText[] } {
  const items = loadSpamAssassin().map((e) => ({ text: emailAsText(e), label: e.label === 'spam' ? 1 : 0 }));
  return seededSplit(items, o);
}
