/** cache: repeated image (hit path) vs distinct images (miss path), embedded LRU and Redis; sequential keep-alive latency of hits and misses; the cost of a /metrics scrape. */
import { spawn, type ChildProcess } from 'node:child_process';
import { duration, images, log, results, save, values, want } from '../context.js';
import { load, multipart, MULTIPART_HEADERS, sequential, startServer, stopServer } from '../harness.js';

/**
 * `n` distinct uploads: the fixture photos, each with a JPEG comment segment (COM) holding
 * its number. The bytes (and so the cache key) differ; the pixels, and the work, do not.
 */
function uniqueBodies(n: number): Buffer[] {
  return Array.from({ length: n }, (_, k) => {
    const jpeg = images[k % images.length]!;
    const text = Buffer.from(`bench ${k}`);
    const com = Buffer.concat([Buffer.from([0xff, 0xfe, 0, text.length + 2]), text]);
    return multipart(Buffer.concat([jpeg.subarray(0, 2), com, jpeg.subarray(2)]));
  });
}


async function startRedis(): Promise<ChildProcess | undefined> {
  const child = spawn('redis-server', ['--port', values['redis-port'], '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: ['ignore', 'pipe', 'ignore'] });
  return new Promise((resolve) => {
    child.once('error', () => resolve(undefined));
    child.stdout!.on('data', (d: Buffer) => {
      if (d.toString().includes('Ready to accept connections')) resolve(child);
    });
  });
}


export async function run(): Promise<void> {
  results.cache ??= {};
  results.sequential ??= {};
  const cacheRuns = ['memory', 'redis'].flatMap((store) => [1, 32].flatMap((c) => ['miss', 'hit'].map((path) => `${store}-${path}-${c}`)));
  if (want('cache') && (cacheRuns.some((k) => !results.cache![k]) || !results.sequential['metrics-scrape'])) {
    const unique = uniqueBodies(Math.ceil(duration * 1000) + 2000);
    let next = 0;
    const nextUnique = (): Buffer => unique[next++ % unique.length]!;
    const same = multipart(images[3]!);
    for (const store of ['memory', 'redis'] as const) {
      next = 0; // a fresh server and a fresh Redis: every distinct image misses again
      const redis = store === 'redis' ? await startRedis() : undefined;
      if (store === 'redis' && !redis) {
        log('cache: redis-server not found; skipping the Redis runs (apt-get install redis-server)');
        continue;
      }
      const server = await startServer(store === 'redis' ? { REDIS_URL: `redis://127.0.0.1:${values['redis-port']}` } : {});
      try {
        for (const c of [1, 32]) {
          for (const path of ['miss', 'hit'] as const) {
            const key = `${store}-${path}-${c}`;
            if (results.cache[key]) continue;
            log(`cache: ${store}, ${path} path, concurrency ${c}, ${duration} s`);
            results.cache[key] = await load(server.pid!, c, duration, undefined, path === 'hit' ? () => same : nextUnique);
            await save();
            log(`  ${results.cache[key].rps} req/s, p50 ${results.cache[key].p50} ms`);
          }
        }
        const post = (body: () => Buffer) => () => ({ method: 'POST', headers: MULTIPART_HEADERS, body: body() });
        log(`cache: ${store}, sequential keep-alive requests`);
        results.sequential[`${store}-hit`] = await sequential('/predict', 2000, post(() => same));
        results.sequential[`${store}-miss`] = await sequential('/predict', 2000, post(nextUnique));
        if (store === 'memory') {
          log('metrics: sequential scrapes');
          results.sequential['metrics-scrape'] = await sequential('/metrics', 500, () => ({}));
          results.sequential['metrics-json'] = await sequential('/metrics', 500, () => ({ headers: { accept: 'application/json' } }));
        }
        await save();
      } finally {
        await stopServer(server);
        redis?.kill('SIGKILL');
      }
    }
  }

}
