// The HTML report in headless Chromium: every chart canvas drew something, and the page logged no errors.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, before, test } from 'node:test';
import { writeReport } from '../../src/report/index.ts';
import { sampleReportInput } from '../../src/report/testing.ts';
import { canvasInk, launchChromium, type Browser } from './chromium.ts';
import { checkReport } from './report-check.ts';

let browser: Browser;
const dir = mkdtempSync(join(tmpdir(), 'retort-report-e2e-'));
before(async () => {
  browser = await launchChromium();
});
after(async () => {
  await browser?.close();
  rmSync(dir, { recursive: true, force: true });
});

test('the report renders every chart in headless Chromium without console errors', async () => {
  const path = writeReport(join(dir, 'report.html'), sampleReportInput());
  const canvases = await checkReport(browser, path);
  assert.deepEqual(
    canvases.map((c) => c.id),
    [
      'chart-loss-0',
      'chart-loss-1',
      'chart-loss-2',
      'chart-val-accuracy',
      'chart-val-perplexity',
      'chart-size-quality',
    ],
  );
});

test('a chart that failed to draw is caught: a blank canvas fails the check', async () => {
  const input = sampleReportInput();
  const path = writeReport(join(dir, 'blank.html'), input);
  const page = await browser.context.newPage();
  await page.goto(pathToFileURL(path).href);
  await page.waitForFunction(
    () => (window as unknown as { retortReport?: { ready: boolean } }).retortReport?.ready === true,
  );
  await page.evaluate(() => {
    const c = document.getElementById('chart-size-quality') as HTMLCanvasElement;
    (window as unknown as { Chart: { getChart(c: HTMLCanvasElement): { destroy(): void } } }).Chart.getChart(
      c,
    ).destroy();
    c.getContext('2d')!.clearRect(0, 0, c.width, c.height);
  });
  const ink = (await canvasInk(page)).find((c) => c.id === 'chart-size-quality')!;
  await page.close();
  assert.equal(ink.inked, 0, 'the check sees a blank canvas as blank');
});
