/**
 * text: the spam filter (models/spam/1) on a typical 4 KB e-mail, cache off: requests/s at
 * concurrency 32 and p50 at concurrency 1, as message/rfc822 and as JSON {"text"}; the
 * server's CPU time per request (all its threads).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type autocannon from 'autocannon';
import { duration, log, results, save, want } from '../context.js';
import { load, ok, processCpuSeconds, startServer, stopServer } from '../harness.js';

/** A mailing-list reply of 4 KB: the ham fixture's headers, its body and quoted earlier messages. */
export function typicalEmail(bytes = 4096): Buffer {
  const message = readFileSync(join('tests', 'fixtures', 'text', 'ham.eml'), 'latin1');
  const quoted = message
    .slice(message.indexOf('\n\n') + 2)
    .split('\n')
    .map((l) => `> ${l}`)
    .join('\n');
  let text = message;
  while (text.length < bytes) text += `\nOn an earlier day, someone wrote:\n${quoted}`;
  return Buffer.from(text.slice(0, bytes), 'latin1');
}

export async function run(): Promise<void> {
  if (!want('text')) return;
  results.text ??= {};
  const email = typicalEmail();
  const forms: Record<string, autocannon.Request> = {
    rfc822: { method: 'POST', path: '/v1/models/spam/predict', headers: { 'content-type': 'message/rfc822' }, body: email },
    json: { method: 'POST', path: '/v1/models/spam/predict', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ text: email.toString('latin1') }) },
  };
  const todo = Object.keys(forms).flatMap((form) => [1, 32].map((c) => `${form}-${c}`)).filter((k) => !results.text![k]);
  if (todo.length === 0) return;
  const server = await startServer({ CACHE_MAX_ENTRIES: '0' });
  try {
    // Unmeasured warm-up: the JIT compiles the text path.
    await load(server.pid!, 8, 3, undefined, undefined, [forms.rfc822!]);
    for (const key of todo) {
      const [form, c] = key.split('-') as [string, string];
      log(`text: ${form} (${email.length}-byte e-mail), concurrency ${c}, ${duration} s`);
      const before = processCpuSeconds(server.pid!);
      const r = await load(server.pid!, Number(c), duration, undefined, undefined, [forms[form]!]);
      const cpuMs = ((processCpuSeconds(server.pid!) - before) / Math.max(1, r.requests)) * 1000;
      results.text[key] = { ...r, cpuMsPerRequest: Math.round(cpuMs * 1000) / 1000, bytes: email.length };
      await save();
      log(`  ${(ok(r) / duration).toFixed(0)} req/s (200), p50 ${r.p50} ms, ${cpuMs.toFixed(2)} ms of server CPU per request`);
    }
  } finally {
    await stopServer(server);
  }
}
