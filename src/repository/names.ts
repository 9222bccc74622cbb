/**
 * Model names and version numbers, checked before they touch a path, a URL or an object key.
 * A name is 1–64 letters, digits, '_', '-' or '.', starting with a letter or digit (so never
 * '.', '..' or a hidden folder); a version is a positive integer (the TF Serving / Triton
 * convention) without leading zeros.
 */
const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
const VERSION = /^[1-9][0-9]{0,8}$/;

export const MODEL_NAME_RULE = "1-64 characters: letters, digits, '_', '-', '.', starting with a letter or digit";
export const VERSION_RULE = 'a positive integer without leading zeros (at most 9 digits)';

export function isModelName(value: string): boolean {
  return NAME.test(value) && !value.includes('..');
}

export function isVersion(value: string): boolean {
  return VERSION.test(value);
}

/** Versions sorted as numbers, highest first. */
export function byVersionDesc(a: string, b: string): number {
  return Number(b) - Number(a);
}

/** A short, printable form of something a client or a store sent (for error messages). */
export function printable(value: string, max = 80): string {
  const shown = JSON.stringify(value.length > max ? `${value.slice(0, max)}…` : value);
  return shown;
}
