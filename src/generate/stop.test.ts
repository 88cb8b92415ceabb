import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TextTracker } from './stop.ts';

/** Feeds growing prefixes of `text` and returns the deltas and where it stopped. */
function feed(t: TextTracker, steps: string[]) {
  const deltas: string[] = [];
  for (const s of steps) {
    const u = t.update(s);
    deltas.push(u.delta);
    if (u.stopped) return { deltas, stopped: true };
  }
  return { deltas, stopped: false };
}

test('text is released as it comes when no stop string could start', () => {
  const { deltas, stopped } = feed(new TextTracker(['###']), ['a', 'ab', 'abc']);
  assert.deepEqual(deltas, ['a', 'b', 'c']);
  assert.equal(stopped, false);
});

test('a possible start of a stop string is held back, then released when it does not complete', () => {
  const t = new TextTracker(['END']);
  const { deltas } = feed(t, ['x', 'xE', 'xEN', 'xENd']);
  assert.deepEqual(deltas, ['x', '', '', 'ENd']);
  assert.equal(t.final, 'xENd');
});

test('a stop string stops the row and the text ends before it', () => {
  const t = new TextTracker(['\n\n', 'STOP']);
  const { deltas, stopped } = feed(t, ['Hi', 'Hi\n', 'Hi\nyou', 'Hi\nyou\n', 'Hi\nyou\n\nmore']);
  assert.equal(stopped, true);
  assert.equal(deltas.join(''), 'Hi\nyou');
  assert.equal(t.final, 'Hi\nyou');
});

test('the earliest of several stop strings wins, even inside one token', () => {
  const t = new TextTracker(['cd', 'b']);
  assert.deepEqual(t.update('abcd'), { delta: 'a', stopped: true });
  assert.equal(t.final, 'a');
});

test('an incomplete UTF-8 character (U+FFFD) is held until the next token completes it', () => {
  const t = new TextTracker();
  assert.equal(t.update('caf\uFFFD').delta, 'caf');
  assert.equal(t.update('café').delta, 'é');
  assert.equal(t.update('café\uFFFD').delta, '');
  assert.equal(t.flush(), '\uFFFD');
});

test('empty stop strings are refused', () => {
  assert.throws(() => new TextTracker(['']), /non-empty/);
});
