/**
 * Fault injection, for tests and drills only (INFERENCE_FAULT_INJECTION=true): a version folder
 * holding `fault.json` loads its real model, then fails the way a broken native runtime does
 * — the host process aborts (SIGABRT), or allocates memory without bound — at load, or when a
 * batch holds a value above `above`. Without the setting the file is ignored.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import type { LoadedModel } from './runtime.js';

export const FAULT_FILE = 'fault.json';

export const faultSchema = z.strictObject({
  /** `load`: while the model loads; `run`: while a batch runs. */
  stage: z.enum(['load', 'run']),
  /** `abort`: the process aborts as a native assertion does; `allocate`: it allocates until it is stopped. */
  action: z.enum(['abort', 'allocate']),
  /** At `run`: only a batch holding a value above this (a poison input); every batch when absent. */
  above: z.number().optional(),
});
export type FaultSpec = z.infer<typeof faultSchema>;

/** The version's fault.json, checked (undefined when it has none). */
export async function readFault(dir: string): Promise<FaultSpec | undefined> {
  const text = await readFile(join(dir, FAULT_FILE), 'utf8').catch(() => undefined);
  if (text === undefined) return undefined;
  const parsed = faultSchema.safeParse(JSON.parse(text));
  if (!parsed.success) throw new Error(`${FAULT_FILE} is not valid: ${parsed.error.issues.map((i) => i.message).join('; ')}`);
  return parsed.data;
}

/** Strike: never returns. */
function strike(action: FaultSpec['action']): never {
  if (action === 'abort') process.abort();
  const held: Buffer[] = [];
  for (;;) held.push(Buffer.alloc(64 * 1024 * 1024, 1));
}

/** `load` with the fault applied at its stage. */
export async function withFault(fault: FaultSpec, load: () => Promise<LoadedModel>): Promise<LoadedModel> {
  if (fault.stage === 'load') strike(fault.action);
  const model = await load();
  return {
    run: (batch, n) => {
      if (fault.above === undefined || batch.some((v) => v > fault.above!)) strike(fault.action);
      return model.run(batch, n);
    },
    dispose: () => model.dispose(),
  };
}
