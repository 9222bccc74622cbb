/** What the repository refuses, as types serving/errors.ts gives a code (invalid input, not found, unavailable). */
import { MODEL_NAME_RULE, printable, VERSION_RULE } from './names.js';

export class InvalidModelRefError extends Error {
  constructor(
    readonly what: 'name' | 'version',
    value: string,
  ) {
    super(what === 'name' ? `invalid model name ${printable(value)}: ${MODEL_NAME_RULE}` : `invalid version ${printable(value)}: ${VERSION_RULE}`);
    this.name = 'InvalidModelRefError';
  }
}

export class UnknownModelError extends Error {
  constructor(name: string) {
    super(`no model named '${name}' in the repository`);
    this.name = 'UnknownModelError';
  }
}

export class UnknownVersionError extends Error {
  constructor(name: string, version: string) {
    super(`model '${name}' has no version ${version}`);
    this.name = 'UnknownVersionError';
  }
}

/** The model or version exists but cannot serve now (loading, failed, unloading). */
export class ModelUnavailableError extends Error {
  constructor(
    message: string,
    readonly retryAfterS: number,
  ) {
    super(message);
    this.name = 'ModelUnavailableError';
  }
}

/** A change that cannot be recorded as asked: a stale revision, an invalid file, a store that cannot be written. */
export class ConfigConflictError extends Error {
  constructor(
    readonly reason: 'revision-conflict' | 'config-invalid' | 'repository-read-only',
    message: string,
    /** The revision in the store, when known. */
    readonly revision?: number,
  ) {
    super(message);
    this.name = 'ConfigConflictError';
  }
}
