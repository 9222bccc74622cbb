/**
 * What the domain refuses, without any protocol: a code from a small set and a message. Each
 * protocol maps the codes to its wire form in one place (native problem+json and the Open
 * Inference Protocol's `{"error"}` in protocols/, gRPC statuses later), as Triton maps its
 * protocol-neutral codes to HTTP in one switch.
 */
import { HostMemoryError } from '../inference/hosts.js';
import { QuarantinedError } from '../inference/pool.js';
import { ExecutorCrashedError, QueueFullError, SchedulerClosedError } from '../inference/scheduler.js';
import { ConfigConflictError, InvalidModelRefError, ModelUnavailableError, UnknownModelError, UnknownVersionError } from '../repository/errors.js';

export const ERROR_CODES = [
  /** The request or one of its inputs cannot be used as sent. */
  'invalid-input',
  /** The input is well-formed but its content cannot be used (an undecodable image, missing features). */
  'unprocessable',
  /** The input's media type is not one the model takes. */
  'unsupported-media',
  /** The input is larger than a limit. */
  'too-large',
  /** No such model or version. */
  'not-found',
  /** The model or server cannot serve now (loading, shutting down, a crashed instance); retry. */
  'unavailable',
  /** The server is at a limit of work in hand (queue, explanation slots); retry shortly. */
  'busy',
  /** Running the input took more of a resource than the server allows (a host's memory ceiling); retrying will not help. */
  'exhausted',
  /** A change conflicts with the state it would change (a stale revision, a repository that cannot record it). */
  'conflict',
  /** A fault of the server. */
  'internal',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

export interface ServingErrorOptions {
  /** Seconds after which a retry may succeed (unavailable, busy). */
  retryAfterS?: number;
  /** Structured detail a client can act on, e.g. `errors` naming each bad feature. */
  details?: Record<string, unknown>;
}

export class ServingError extends Error {
  readonly retryAfterS: number | undefined;
  readonly details: Record<string, unknown>;

  constructor(
    readonly code: ErrorCode,
    /** A stable machine-readable reason, e.g. `invalid-base64` (the native problem type's slug). */
    readonly reason: string,
    message: string,
    opts: ServingErrorOptions = {},
  ) {
    super(message);
    this.name = 'ServingError';
    this.retryAfterS = opts.retryAfterS;
    this.details = opts.details ?? {};
  }

  /** The same error with its message prefixed (which input of a request it concerns). */
  within(prefix: string, code: ErrorCode = this.code): ServingError {
    return new ServingError(code, this.reason, `${prefix}${this.message}`, { ...(this.retryAfterS !== undefined && { retryAfterS: this.retryAfterS }), details: this.details });
  }
}

export const invalidInput = (reason: string, message: string, details?: Record<string, unknown>): ServingError =>
  new ServingError('invalid-input', reason, message, details ? { details } : {});
export const tooLarge = (message: string): ServingError => new ServingError('too-large', 'payload-too-large', message);
export const unavailable = (message: string, retryAfterS = 1, reason = 'not-ready'): ServingError => new ServingError('unavailable', reason, message, { retryAfterS });

/** The serving error a domain error is (repository, scheduler), or undefined for anything else (a real bug). */
export function servingError(err: unknown): ServingError | undefined {
  if (err instanceof ServingError) return err;
  if (err instanceof QueueFullError) return new ServingError('busy', 'overloaded', `${err.message}; retry shortly`, { retryAfterS: 1 });
  if (err instanceof ExecutorCrashedError) return unavailable('the model instance stopped while running this request; retry', 1, 'instance-crashed');
  if (err instanceof HostMemoryError) return new ServingError('exhausted', 'memory-limit', `running this request took its inference host over its memory ceiling; the host was replaced (${err.reason})`);
  if (err instanceof QuarantinedError) return unavailable(`the model version is out of service: ${err.reason}`, 30);
  if (err instanceof SchedulerClosedError) return unavailable('the server is shutting down', 5, 'shutting-down');
  if (err instanceof InvalidModelRefError) return invalidInput(err.what === 'name' ? 'invalid-model-name' : 'invalid-version', err.message);
  if (err instanceof UnknownModelError) return new ServingError('not-found', 'unknown-model', err.message);
  if (err instanceof UnknownVersionError) return new ServingError('not-found', 'unknown-version', err.message);
  if (err instanceof ModelUnavailableError) return unavailable(err.message, err.retryAfterS);
  if (err instanceof ConfigConflictError) return new ServingError('conflict', err.reason, err.message, err.revision !== undefined ? { details: { revision: err.revision } } : {});
  return undefined;
}

/** Anything thrown while handling one input as a serving error; a real bug is rethrown. */
export function asServingError(err: unknown): ServingError {
  const known = servingError(err);
  if (!known) throw err;
  return known;
}

/** One input's result in a request of many: its value, or why it failed alone. */
export type Outcome<T> = { ok: true; value: T } | { ok: false; error: ServingError };
