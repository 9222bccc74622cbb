/** A version's evaluation.json, read at load: absent is fine; a file that is not one is refused with the reason. */
import { lstat, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { EVALUATION_FILE, evaluationSchema, type Evaluation } from './summary.js';

/** Larger than any evaluation the script writes (a regressor's 100,000 errors). */
const MAX_EVALUATION_BYTES = 4 * 1024 * 1024;

export async function readEvaluation(dir: string): Promise<Evaluation | undefined> {
  const path = join(dir, EVALUATION_FILE);
  const info = await lstat(path).catch(() => undefined);
  if (!info) return undefined;
  if (!info.isFile()) throw new Error(`${EVALUATION_FILE} is not a regular file`);
  if (info.size > MAX_EVALUATION_BYTES) throw new Error(`${EVALUATION_FILE} is ${info.size} bytes; at most ${MAX_EVALUATION_BYTES}`);
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(path, 'utf8'));
  } catch (err) {
    throw new Error(`${EVALUATION_FILE} is not JSON: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
  const parsed = evaluationSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new Error(`invalid ${EVALUATION_FILE}: ${issue.path.join('.') || '(root)'}: ${issue.message}`);
  }
  return parsed.data;
}


/** The few figures of an evaluation that the version detail shows. */
export function evaluationHeadline(evaluation: Evaluation): Record<string, unknown> {
  const common = { task: evaluation.task, data: evaluation.data, items: evaluation.items, created_at: evaluation.createdAt };
  if (evaluation.task === 'classification') {
    const c = evaluation.calibration;
    return { ...common, accuracy: evaluation.accuracy, calibration: { temperature: c.temperature, ece_before: c.eceBefore, ece_after: c.eceAfter } };
  }
  return { ...common, mean_absolute_error: evaluation.meanAbsoluteError, error_interval: evaluation.errors.interval, ...(evaluation.rounded && { rounded_accuracy: evaluation.rounded.accuracy }) };
}
