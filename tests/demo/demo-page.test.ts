/**
 * The demo page in a real browser: the system Chromium driven by puppeteer-core (no browser
 * download), against the real app with the shipped models, API keys on, under the service's
 * Content-Security-Policy. Screenshots go to a temporary folder, or to docs/ with
 * SCREENSHOTS=docs (`npm run screenshots`).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp, ROOT } from '../helpers/app.js';
import { FIXTURES, photo } from '../helpers/images.js';
import { SPAM_EMAIL } from '../helpers/text.js';

const KEY = 'demo-key-0123456789abcdef';
const SHOTS = process.env.SCREENSHOTS === 'docs' ? join(ROOT, 'docs') : mkdtempSync(join(tmpdir(), 'demo-shots-'));
const DESKTOP = { width: 1200, height: 900 };
const PHONE = { width: 390, height: 844, isMobile: true, hasTouch: true };
/** Nothing on the page is wider than the viewport. */
const FITS = 'document.documentElement.scrollWidth <= window.innerWidth';

/** An expression evaluated in the page (kept as text: these tests compile without the DOM library). */
function inPage(page: Page, expression: string): Promise<unknown> {
  return page.evaluate(expression);
}

/**
 * Choose a file in the page's file input as a user would, through the input's own `change`
 * event (a DataTransfer, as a drop or a picker gives), without the DevTools file chooser.
 */
async function chooseFile(page: Page, name: string, bytes: Buffer, type: string): Promise<void> {
  await page.evaluate(
    `(() => {
      const bytes = Uint8Array.from(atob(${JSON.stringify(bytes.toString('base64'))}), (c) => c.charCodeAt(0));
      const transfer = new DataTransfer();
      transfer.items.add(new File([bytes], ${JSON.stringify(name)}, { type: ${JSON.stringify(type)} }));
      const input = document.getElementById('file');
      input.files = transfer.files;
      input.dispatchEvent(new Event('change'));
    })()`,
  );
}

function chromiumPath(): string {
  for (const candidate of [process.env.CHROME_BIN, 'chromium', 'chromium-browser', 'google-chrome']) {
    if (!candidate) continue;
    const found = spawnSync('sh', ['-c', `command -v "${candidate}"`], { encoding: 'utf8' }).stdout.trim();
    if (found) return found;
  }
  throw new Error('no Chromium found: install it (apt-get install chromium) or set CHROME_BIN');
}

describe('demo page in a browser', () => {
  let app: FastifyInstance;
  let base: string;
  let browser: Browser;
  const consoleErrors: string[] = [];

  beforeAll(async () => {
    app = await buildApp({ API_KEYS: KEY });
    await app.listen({ host: '127.0.0.1', port: 0 });
    base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
    browser = await puppeteer.launch({ executablePath: chromiumPath(), headless: true, protocolTimeout: 60_000, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await app.close();
  });

  /** A page that records console errors, failed loads and CSP violations. */
  async function open(viewport: typeof DESKTOP | typeof PHONE, path = '/'): Promise<Page> {
    const page = await browser.newPage();
    await page.setViewport(viewport);
    page.on('console', (m) => {
      if (m.type() === 'error') consoleErrors.push(m.text());
    });
    page.on('pageerror', (e) => consoleErrors.push(String(e)));
    page.on('response', (r) => {
      if (r.status() >= 400) consoleErrors.push(`${r.status()} ${r.url()}`);
    });
    // Injected through the DevTools protocol, so the page's own policy does not apply to it.
    await page.evaluateOnNewDocument(`
      window.cspViolations = [];
      document.addEventListener('securitypolicyviolation', (e) => window.cspViolations.push(e.violatedDirective + ' ' + e.blockedURI));
    `);
    await page.goto(`${base}${path}`, { waitUntil: 'networkidle0' });
    await page.waitForSelector('body[data-ready="true"]');
    return page;
  }

  async function cspViolations(page: Page): Promise<string[]> {
    return page.evaluate('window.cspViolations') as Promise<string[]>;
  }

  async function enterKey(page: Page): Promise<void> {
    await page.click('summary');
    await page.type('#api-key', KEY);
    await page.keyboard.press('Tab');
  }

  it('a browser asking GET / for HTML lands on the demo; a photo gets its label, top-k bars and the heat-map', { timeout: 400_000 }, async () => {
    const native = await fetch(`${base}/predict`, { method: 'POST', headers: { 'content-type': 'image/jpeg', 'x-api-key': KEY }, body: photo('truck') });
    const expected = ((await native.json()) as { class_label: string }).class_label;
    for (const [name, viewport] of [['desktop', DESKTOP], ['phone', PHONE]] as const) {
      const page = await open(viewport);
      expect(page.url()).toBe(`${base}/demo/`);
      expect(await inPage(page, "document.getElementById('model').value")).toBe('cifar10');
      // How good it is: the held-out figures and the model card's pictures, drawn by the server.
      await page.waitForFunction("[...document.querySelectorAll('#quality-figures img')].filter((i) => i.complete && i.naturalWidth > 0).length === 2");
      expect(await page.$eval('#quality-summary', (e) => e.textContent)).toMatch(/^Accuracy \d+\.\d % \(95 % interval \d+\.\d % to \d+\.\d %\) on 2500 held-out inputs\. Calibration error /);
      expect(await page.$$eval('#quality-figures img', (imgs) => imgs.map((i) => (i as unknown as { dataset: Record<string, string> }).dataset.figure))).toEqual(['confusion', 'reliability']);
      await enterKey(page);
      expect(await inPage(page, "sessionStorage.getItem('ml-inference-api-key')")).toBe(KEY);
      expect(await inPage(page, 'localStorage.length')).toBe(0);
      const input = await page.$('#file');
      await (input as unknown as { uploadFile(path: string): Promise<void> }).uploadFile(join(FIXTURES, 'truck.jpg'));
      await page.waitForSelector('#heatmap:not([hidden])', { timeout: 150_000 });
      await page.waitForFunction("document.getElementById('heatmap').naturalWidth > 0");
      expect(await page.$eval('#answer', (e) => e.textContent)).toMatch(new RegExp(`^${expected} \\(\\d+\\.\\d %\\)$`));
      expect(await inPage(page, "document.getElementById('heatmap').naturalWidth")).toBe(256);
      expect(await inPage(page, "document.getElementById('heatmap').dataset.target")).toBe(expected);
      expect(await page.$$eval('#bars .bar', (bars) => bars.length)).toBe(5);
      expect(await page.$eval('#meta', (e) => e.textContent)).toMatch(/version 1 · [\d.]+ ms on the server/);
      // Fits the screen: nothing wider than the viewport.
      expect(await inPage(page, FITS)).toBe(true);
      await page.screenshot({ path: join(SHOTS, `demo-image-${name}.png`), fullPage: true });
      expect(await cspViolations(page)).toEqual([]);
      await page.close();
    }
  });

  it('the iris form, filled and sent with the keyboard, shows the class and the Shapley chart', { timeout: 400_000 }, async () => {
    for (const [name, viewport] of [['desktop', DESKTOP], ['phone', PHONE]] as const) {
      const page = await open(viewport, '/demo/?model=iris');
      await enterKey(page);
      await page.waitForSelector('#f-petal_width');
      // Every control has a label (screen readers, keyboard users).
      expect(await inPage(page, "[...document.querySelectorAll('input, select')].filter((e) => e.labels.length === 0).map((e) => e.id)")).toEqual([]);
      for (const [feature, value] of Object.entries({ sepal_length: '6.7', sepal_width: '3.0', petal_length: '5.2', petal_width: '2.3' })) {
        await inPage(page, `document.getElementById('f-${feature}').value = ''`);
        await page.type(`#f-${feature}`, value);
      }
      await page.focus('#f-petal_width');
      await page.keyboard.press('Enter');
      await page.waitForSelector('#shapley:not([hidden])', { timeout: 150_000 });
      expect(await page.$eval('#answer', (e) => e.textContent)).toMatch(/^virginica \(\d+\.\d %\)$/);
      expect(await page.$$eval('#shapley .bar', (bars) => bars.map((b) => b.getAttribute('aria-label')!.split(':')[0]))).toHaveLength(4);
      expect(await page.$eval('#shapley-note', (e) => e.textContent)).toMatch(/^probability of virginica: 1\.000 here/);
      expect(await inPage(page, FITS)).toBe(true);
      await page.screenshot({ path: join(SHOTS, `demo-tabular-${name}.png`), fullPage: true });
      expect(await cspViolations(page)).toEqual([]);
      await page.close();
    }
  });

  it('the spam filter: a pasted e-mail gets its label and the words that pushed it highlighted', { timeout: 400_000 }, async () => {
    for (const [name, viewport] of [['desktop', DESKTOP], ['phone', PHONE]] as const) {
      const page = await open(viewport, '/demo/?model=spam');
      await enterKey(page);
      await page.waitForSelector('#text-input:not([hidden])');
      expect(await page.$$eval('#text-examples button', (b) => b.map((e) => e.textContent))).toEqual(['An offer (spam)', 'A mailing-list reply (ham)', 'A whole e-mail (headers and body)']);
      // An example fills the box; a pasted e-mail replaces it.
      await page.click('#text-examples button:nth-child(2)');
      expect(await inPage(page, "document.getElementById('text').value")).toMatch(/^On Tue, Aug 6, Matt wrote/);
      await inPage(page, `document.getElementById('text').value = ${JSON.stringify(SPAM_EMAIL.toString('latin1'))}`);
      await page.click('#classify-text');
      await page.waitForSelector('#highlight:not([hidden])', { timeout: 150_000 });
      expect(await page.$eval('#answer', (e) => e.textContent)).toMatch(/^spam \(\d+\.\d %\)$/);
      expect(await page.$$eval('#highlight mark.pos', (m) => m.length)).toBeGreaterThan(5);
      expect(await page.$$eval('#highlight mark.neg', (m) => m.length)).toBeGreaterThan(0);
      // The highlighted text is the text the model read: every mark is a word of it.
      const marked = await page.$$eval('#highlight mark', (m) => m.map((e) => e.textContent ?? ''));
      expect(marked.every((w) => /^[\p{L}\p{N}$€£!][\p{L}\p{N}'’._@-]*$/u.test(w))).toBe(true);
      expect(await page.$eval('#highlight', (e) => e.textContent)).toContain('claim your prize');
      expect(await page.$eval('#highlight-note', (e) => e.textContent)).toMatch(/^red: toward spam · green: toward ham · log-odds of spam/);
      expect(await inPage(page, FITS)).toBe(true);
      await page.screenshot({ path: join(SHOTS, `demo-text-${name}.png`), fullPage: true });
      expect(await cspViolations(page)).toEqual([]);
      await page.close();
    }
  });

  it('after an error the previous answer is gone: a file that is not an image, an empty field', { timeout: 360_000 }, async () => {
    // The explanations run beside the whole suite on two cores: they are given the time they need.
    const page = await open(DESKTOP);
    await enterKey(page);
    await chooseFile(page, 'truck.jpg', photo('truck'), 'image/jpeg');
    await page.waitForSelector('#heatmap:not([hidden])', { timeout: 150_000 });
    await chooseFile(page, 'notes.txt', Buffer.from('not a photo'), 'text/plain');
    await page.waitForSelector('#error:not([hidden])');
    expect(await page.$eval('#error', (e) => e.textContent)).toBe('That is not an image file.');
    expect(await inPage(page, "['result', 'preview', 'heatmap'].map((id) => document.getElementById(id).hidden)")).toEqual([true, true, true]);
    await page.close();

    const form = await open(DESKTOP, '/demo/?model=iris');
    await enterKey(form);
    await form.waitForSelector('#f-petal_width');
    await form.click('#features-form button[type="submit"]');
    await form.waitForSelector('#shapley:not([hidden])', { timeout: 150_000 });
    await inPage(form, "document.getElementById('f-petal_width').value = ''");
    await form.click('#features-form button[type="submit"]');
    await form.waitForSelector('#error:not([hidden])');
    expect(await form.$eval('#error', (e) => e.textContent)).toBe('Fill in petal_width.');
    expect(await inPage(form, "document.getElementById('result').hidden")).toBe(true);
    await form.close();
  });

  it('wine quality: long feature names stay clear of the bars, and no value shows as -0.000', { timeout: 400_000 }, async () => {
    for (const viewport of [DESKTOP, PHONE]) {
      const page = await open(viewport, '/demo/?model=wine-quality');
      await enterKey(page);
      await page.waitForSelector('#f-total_sulfur_dioxide');
      // A regressor's quality: its error distribution, and the rounded confusion and the error histogram.
      await page.waitForFunction("[...document.querySelectorAll('#quality-figures img')].filter((i) => i.complete && i.naturalWidth > 0).length === 2");
      expect(await page.$eval('#quality-summary', (e) => e.textContent)).toMatch(/^Mean absolute error [\d.]+ \(95 % interval [\d.]+ to [\d.]+\) on 257 held-out rows; 90 % of errors between -[\d.]+ and [\d.]+\. Rounded, exact for/);
      const shown: string[] = [];
      for (const example of await page.$$('#examples button')) {
        await example.click();
        await inPage(page, "document.getElementById('shapley').hidden = true");
        await page.click('#features-form button[type="submit"]');
        await page.waitForSelector('#shapley:not([hidden])', { timeout: 150_000 });
        // Each name's text (not only its box) ends before its bar starts.
        const overlaps = await inPage(
          page,
          "[...document.querySelectorAll('#shapley .bar, #bars .bar')].filter((b) => { const text = document.createRange(); text.selectNodeContents(b.children[0]); return text.getBoundingClientRect().right > b.children[1].getBoundingClientRect().left + 0.5; }).map((b) => b.children[0].textContent)",
        );
        expect(overlaps).toEqual([]);
        shown.push(...((await inPage(page, "[...document.querySelectorAll('#shapley .value, #answer, #shapley-note')].map((e) => e.textContent)")) as string[]));
      }
      expect(shown.length).toBeGreaterThan(20);
      expect(shown.filter((t) => /-0\.0+\b(?!\d*[1-9])/.test(t))).toEqual([]);
      expect(await inPage(page, FITS)).toBe(true);
      await page.close();
    }
  });

  it('had no console errors and no failed requests', () => {
    expect(consoleErrors, consoleErrors.join("\n")).toEqual([]);
  });
});

describe('demo page switched off', () => {
  it('DEMO_ENABLED=false: no /demo, and GET / answers JSON to browsers too', async () => {
    const app = await buildApp({ DEMO_ENABLED: 'false' }, false);
    try {
      expect((await app.inject({ url: '/demo/' })).statusCode).toBe(404);
      const root = await app.inject({ url: '/', headers: { accept: 'text/html,application/xhtml+xml' } });
      expect(root.statusCode).toBe(200);
      expect(root.json()).toMatchObject({ name: 'ml-inference-api' });
    } finally {
      await app.models.settled();
      await app.close();
    }
  });
});
