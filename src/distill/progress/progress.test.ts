import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatDuration, Progress, type ProgressStream } from './progress.ts';

function fakeStream(isTTY: boolean, columns = 200): ProgressStream & { out: string } {
  const s = {
    out: '',
    isTTY,
    columns,
    write(x: string) {
      s.out += x;
      return true;
    },
  };
  return s;
}

/** A clock that advances 100 ms per call to tick(). */
function fakeClock() {
  let t = 0;
  return { now: () => t, tick: (ms = 100) => (t += ms) };
}

test('off a terminal: one plain line every N steps, with terms, rate and ETA, and no control codes', () => {
  const stream = fakeStream(false);
  const clock = fakeClock();
  const p = new Progress({ stream, every: 5, now: clock.now });
  p.start(20);
  for (let s = 1; s <= 20; s++) {
    clock.tick();
    p.update({ step: s, loss: 3 - s * 0.1, terms: { kd: 1.5, ce: 0.25 }, lr: 3e-4 });
  }
  p.message('eval step 20: loss 1.0000');
  p.finish();
  const lines = stream.out.trimEnd().split('\n');
  assert.deepEqual(
    lines.map((l) => l.split(' ')[1]),
    ['1/20', '5/20', '10/20', '15/20', '20/20', 'step'],
  );
  assert.equal(lines[2], 'step 10/20 (50%) loss 2.0000 kd 1.5000 ce 0.2500 lr 3.00e-4 | 10.0 steps/s, ETA 1s');
  assert.ok(!stream.out.includes('\r') && !stream.out.includes('\x1b'), 'no carriage returns or escapes in logs');
});

test('on a terminal: one line redrawn in place, throttled, with a bar and ETA; messages clear and redraw it', () => {
  const stream = fakeStream(true);
  const clock = fakeClock();
  const p = new Progress({ stream, throttleMs: 250, barWidth: 10, now: clock.now });
  p.start(100);
  for (let s = 1; s <= 10; s++) {
    clock.tick(); // 100 ms a step: with 250 ms throttling, 1 draw in about 3 updates
    p.update({ step: s, loss: 2, terms: { kd: 0.5 } });
  }
  const draws = stream.out.split('\r\x1b[2K').length - 1;
  assert.ok(draws >= 3 && draws <= 5, `${draws} redraws for 10 updates at 100 ms with a 250 ms throttle`);
  assert.ok(!stream.out.includes('\n'), 'the bar stays on one line');
  const lastFrame = stream.out.split('\r\x1b[2K').at(-1)!;
  assert.match(lastFrame, /^█░{9} \d+\/100 \d+% \| loss 2\.0000 kd 0\.5000 \| 10\.0 it\/s \| ETA \d+s$/);
  p.message('eval: loss 1.5');
  assert.ok(stream.out.includes('\r\x1b[2Keval: loss 1.5\n'), 'the message replaces the bar on its own line');
  assert.ok(stream.out.endsWith('ETA 9s'), 'and the bar is drawn again below it');
  p.finish();
  assert.ok(stream.out.endsWith('\n'));
});

test('on a narrow terminal the line is cut so it never wraps', () => {
  const stream = fakeStream(true, 40);
  const p = new Progress({ stream, now: () => 0 });
  p.start(10);
  p.update({ step: 10, loss: 1, terms: { a: 1, b: 2, c: 3, d: 4 } });
  const frame = stream.out.split('\r\x1b[2K').at(-1)!;
  assert.ok(frame.length <= 39, `frame of ${frame.length} chars on a 40-column terminal`);
});

test('durations read like a person writes them', () => {
  assert.equal(formatDuration(45), '45s');
  assert.equal(formatDuration(75), '1m15s');
  assert.equal(formatDuration(3725), '1h02m');
  assert.equal(formatDuration(NaN), '?');
});
