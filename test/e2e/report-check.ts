// Opens a report file in headless Chromium and checks that it rendered: every canvas has a chart
// that drew pixels, the page logged no errors, and it loaded nothing but itself.
import assert from 'node:assert/strict';
import { pathToFileURL } from 'node:url';
import { canvasInk, collectErrors, type Browser } from './chromium.ts';

export async function checkReport(b: Browser, path: string) {
  const page = await b.context.newPage();
  const errors = collectErrors(page);
  const requests: string[] = [];
  page.on('request', (r) => requests.push(r.url()));
  await page.goto(pathToFileURL(path).href);
  await page.waitForFunction(
    () => (window as unknown as { retortReport?: { ready: boolean } }).retortReport?.ready === true,
    undefined,
    { timeout: 30_000 },
  );
  const canvases = await canvasInk(page);
  const state = await page.evaluate(
    () => (window as unknown as { retortReport: { charts: number; canvases: number } }).retortReport,
  );
  await page.close();
  assert.deepEqual(errors, [], 'no console errors');
  assert.deepEqual(requests, [pathToFileURL(path).href], 'the report loads nothing but itself');
  assert.ok(canvases.length > 0);
  assert.equal(state.charts, canvases.length, 'a chart on every canvas');
  for (const c of canvases) {
    assert.ok(c.width > 100 && c.height > 100, `${c.id} is ${c.width}×${c.height}`);
    assert.ok(c.inked > 0.01 * c.width * c.height, `${c.id}: only ${c.inked} of ${c.width * c.height} pixels drawn`);
  }
  return canvases;
}
