/**
 * A tabular request row: `[5.1, 3.5, 1.4, 0.2]` in the declared order, or
 * `{"sepal_length": 5.1, ...}` by name. Every problem is reported, each naming its feature.
 */
import { ServingError } from '../../serving/errors.js';
import type { Feature } from './metadata.js';
import { standardize, type Standardization } from './standardize.js';

export interface FeatureError {
  feature?: string;
  message: string;
}

/** The row cannot be used; `errors` names each offending feature. */
export class FeatureInputError extends ServingError {
  constructor(readonly errors: FeatureError[]) {
    super('unprocessable', 'invalid-features', errors.map((e) => e.message).join('; '), { details: { errors } });
    this.name = 'FeatureInputError';
  }
}

function shown(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return 'an object';
  if (typeof value === 'string') return `the string ${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)}`;
  return String(value);
}

/** The largest magnitude a model's 32-bit float input holds. */
export const FLOAT32_MAX = 3.4028234663852886e38;

function checkValue(feature: Feature, value: unknown, errors: FeatureError[]): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    errors.push({ feature: feature.name, message: `${feature.name} must be a finite number, got ${shown(value)}` });
    return Number.NaN;
  }
  if (Math.abs(value) > FLOAT32_MAX) {
    errors.push({ feature: feature.name, message: `${feature.name} ${value} is too large for the model's 32-bit inputs (at most ±3.4e38)` });
    return Number.NaN;
  }
  return value;
}

/**
 * The model's input for a checked row: standardized into 32-bit floats. A value that is
 * representable but so far from the training mean that its standardized value is not (it
 * would reach the model as ±Infinity) is refused, naming the feature.
 */
export function standardizedRow(values: readonly number[], features: readonly Feature[], s: Standardization): Float32Array {
  const input = standardize(values, s);
  const errors: FeatureError[] = [];
  input.forEach((v, i) => {
    if (!Number.isFinite(v)) {
      const name = features[i]!.name;
      errors.push({ feature: name, message: `${name} ${values[i]} is too far from its training values (mean ${s.mean[i]}) for the model's 32-bit inputs` });
    }
  });
  if (errors.length > 0) throw new FeatureInputError(errors);
  return input;
}

/** The feature values in declared order; throws FeatureInputError. */
export function parseRow(raw: unknown, features: readonly Feature[]): number[] {
  const names = features.map((f) => f.name);
  const errors: FeatureError[] = [];
  let values: number[];
  if (Array.isArray(raw)) {
    if (raw.length !== features.length) {
      throw new FeatureInputError([{ message: `expected ${features.length} features (${names.join(', ')}), got ${raw.length}` }]);
    }
    values = features.map((f, i) => checkValue(f, raw[i], errors));
  } else if (typeof raw === 'object' && raw !== null) {
    const given = raw as Record<string, unknown>;
    const keys = Object.keys(given);
    if (keys.length > features.length * 2 + 16) {
      throw new FeatureInputError([{ message: `expected ${features.length} features (${names.join(', ')}), got ${keys.length} keys` }]);
    }
    const unknown = keys.filter((key) => !names.includes(key));
    for (const key of unknown) errors.push({ feature: key.slice(0, 64), message: `unknown feature ${JSON.stringify(key.slice(0, 64))}` });
    // The accepted names once, however many are unknown.
    if (unknown.length > 0) errors.push({ message: `the features are ${names.join(', ')}` });
    values = features.map((f) => {
      if (!Object.hasOwn(given, f.name)) {
        errors.push({ feature: f.name, message: `missing feature ${f.name}` });
        return Number.NaN;
      }
      return checkValue(f, given[f.name], errors);
    });
  } else {
    throw new FeatureInputError([{ message: `features must be an array of ${features.length} numbers or an object keyed by feature name (${names.join(', ')}), got ${shown(raw)}` }]);
  }
  if (errors.length > 0) throw new FeatureInputError(errors);
  return values;
}

/** Values outside the range seen in training: answered, but flagged. */
export function outOfRange(values: readonly number[], features: readonly Feature[]): { feature: string; warning: string }[] {
  const out: { feature: string; warning: string }[] = [];
  features.forEach((f, i) => {
    const v = values[i]!;
    const range = `${f.min ?? '-∞'}-${f.max ?? '∞'}`;
    if (f.max !== undefined && v > f.max) out.push({ feature: f.name, warning: `${f.name} ${v} is above the training range ${range}` });
    else if (f.min !== undefined && v < f.min) out.push({ feature: f.name, warning: `${f.name} ${v} is below the training range ${range}` });
  });
  return out;
}
