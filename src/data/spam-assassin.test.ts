import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadSpamAssassin } from './spam-assassin.ts';

test('loadSpamAssassin gives labelled bodies without headers', () => {
  const all = loadSpamAssassin();
  assert.equal(all.length, 6046);
  const spam = all.filter((e) => e.label === 'spam').length;
  const ham = all.filter((e) => e.label === 'ham').length;
  assert.equal(spam + ham, all.length);
  assert.equal(spam, 1896, 'spam-1 (500) + spam-2 (1396)');
  assert.ok(all.every((e) => (e.label === 'spam') === e.group.startsWith('spam')));
  // Headers are gone: no body starts with the routing headers every raw message has.
  const headerLike = all.filter((e) => /^(Return-Path|Received|Delivered-To|Message-Id):/i.test(e.text)).length;
  assert.equal(headerLike, 0);
  const withText = all.filter((e) => e.text.length > 0).length;
  assert.ok(withText / all.length > 0.99, `only ${withText} of ${all.length} emails have body text`);
  assert.ok(all.filter((e) => e.subject !== undefined).length > 6000);
  assert.equal(loadSpamAssassin(), all, 'cached in module scope');
  console.log(`spam-assassin: ${spam} spam, ${ham} ham, ${all.length - withText} with no readable body`);
});
