/** Checks every kind's explanations share: the method asked for, and the class to explain. */
import { invalidInput } from '../serving/errors.js';

export function checkMethod(method: string | undefined, allowed: readonly string[], what: string): string {
  if (method !== undefined && !allowed.includes(method)) {
    throw invalidInput('unknown-method', `method '${method.slice(0, 40)}' is not available for ${what} models; use ${allowed.join(' or ')}`);
  }
  return method ?? allowed[0]!;
}

/** The index of the class `target` names, or undefined for the predicted class. */
export function targetIndex(labels: readonly string[], target: string | undefined): number | undefined {
  if (target === undefined) return undefined;
  const i = labels.indexOf(target);
  if (i < 0) throw invalidInput('unknown-target', `target '${target.slice(0, 64)}' is not a class of this model; one of ${labels.join(', ')}`);
  return i;
}

export const round6 = (v: number): number => Math.round(v * 1e6) / 1e6;
