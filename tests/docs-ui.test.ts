/**
 * Swagger UI really runs under the service's Content-Security-Policy: a headless Chromium
 * (apt-get install chromium) loads /docs, executes its scripts and renders every operation
 * and the Authorize button; a policy violation would leave the page empty.
 */
import { spawnSync } from 'node:child_process';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from './helpers/app.js';

function findChromium(): string {
  for (const candidate of [process.env.CHROME_BIN, 'chromium', 'chromium-browser', 'google-chrome']) {
    if (candidate && spawnSync(candidate, ['--version']).status === 0) return candidate;
  }
  throw new Error('no Chromium found: install it (apt-get install chromium) or set CHROME_BIN');
}

describe('Swagger UI in a browser', () => {
  let app: FastifyInstance;
  let url: string;
  beforeAll(async () => {
    app = await buildApp({ API_KEYS: 'docs-ui-test-key-0123456789' }, false);
    await app.listen({ host: '127.0.0.1', port: 0 });
    url = `http://127.0.0.1:${(app.server.address() as { port: number }).port}/docs/`;
  });
  afterAll(async () => {
    await app.models.settled();
    await app.close();
  });

  /** The page's DOM after its scripts ran, and the browser's log. */
  async function render(page: string): Promise<{ dom: string; log: string }> {
    const chromium = findChromium();
    // Run asynchronously so this process keeps serving the page to the browser.
    const { spawn } = await import('node:child_process');
    const child = spawn(
      chromium,
      ['--headless', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--enable-logging=stderr', '--v=0', '--virtual-time-budget=15000', '--dump-dom', page],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let dom = '';
    let log = '';
    child.stdout.on('data', (d: Buffer) => (dom += d.toString()));
    child.stderr.on('data', (d: Buffer) => (log += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    expect(code).toBe(0);
    return { dom, log };
  }

  it("renders the iris model's own document: its prediction routes with the feature form filled in", { timeout: 90_000 }, async () => {
    await app.models.settled();
    const { dom, log } = await render(`${url}?url=/v1/models/iris/openapi.json&docExpansion=full`);
    expect(dom).toContain('data-path="/v1/models/iris/predict"');
    expect(dom).toContain('data-path="/v1/models/iris/predict/batch"');
    for (const feature of ['sepal_length', 'sepal_width', 'petal_length', 'petal_width']) expect(dom).toContain(feature);
    expect(log).not.toMatch(/Content Security Policy/i);
  });

  it('renders every operation and the Authorize button, with no CSP violation', { timeout: 90_000 }, async () => {
    const { dom, log } = await render(url);
    for (const path of ['/predict', '/predict/batch', '/health', '/ready', '/metrics']) {
      expect(dom).toContain(`data-path="${path}"`);
    }
    expect(dom).toMatch(/class="btn authorize/);
    expect(log).not.toMatch(/Content Security Policy/i);
  });

  it('shows the Open Inference Protocol error shape as written, not as an emptied HTML tag', { timeout: 90_000 }, async () => {
    const { dom } = await render(`${url}?url=/docs/json&docExpansion=full`);
    // The description, rendered from Markdown, keeps <message> (escaped in the DOM).
    expect(dom).toContain('{"error": "&lt;message&gt;"}');
    expect(dom).not.toContain('{"error": ""}');
  });
});
