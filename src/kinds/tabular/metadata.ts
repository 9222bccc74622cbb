/**
 * metadata.json of a tabular model: its features in order (with the range seen in training),
 * the standardization it was trained with, and for a classifier its labels.
 */
import { z } from 'zod';
import { calibrationSchema } from '../metadata.js';
import { onnxSectionSchema } from '../../runtimes/onnx/metadata.js';

const TABULAR_LIMITS = { maxFeatures: 1000, maxLabels: 10_000 };

const featureSchema = z.object({
  name: z.string().regex(/^[a-z][a-z0-9_]{0,63}$/, 'a feature name is 1-64 lower-case letters, digits or _, starting with a letter'),
  description: z.string().max(500).optional(),
  unit: z.string().max(50).optional(),
  /** The range seen in training: values outside it are answered, with a warning. */
  min: z.number().optional(),
  max: z.number().optional(),
});

export type Feature = z.infer<typeof featureSchema>;

/**
 * A regressor's error on held-out rows (prediction − actual): its mean absolute value, and the
 * interval that held `coverage` of the errors (from the 5th to the 95th percentile for 90 %).
 */
export const errorDistributionSchema = z.object({
  meanAbsoluteError: z.number().min(0),
  interval: z.object({ low: z.number(), high: z.number(), coverage: z.number().gt(0).max(1) }),
  rows: z.number().int().positive().optional(),
  measuredOn: z.string().max(500).optional(),
});
export type ErrorDistribution = z.infer<typeof errorDistributionSchema>;

const common = {
  name: z.string().min(1).max(200).optional(),
  version: z.string().min(1).max(200).optional(),
  description: z.string().max(10_000).optional(),
  features: z.array(featureSchema).min(1).max(TABULAR_LIMITS.maxFeatures),
  /** input[i] = (value[i] − mean[i]) / std[i], applied by the server (src/kinds/tabular/standardize.ts). */
  standardization: z.object({ mean: z.array(z.number()), std: z.array(z.number().positive()) }),
  validation: z.record(z.string(), z.unknown()).optional(),
  /** How the model and its settings were chosen: cross-validated figures of everything tried. */
  crossValidation: z.record(z.string(), z.unknown()).optional(),
  training: z.record(z.string(), z.unknown()).optional(),
  /** How the ONNX Runtime serves the version's model.onnx (see runtimes/onnx/metadata.ts). */
  onnx: onnxSectionSchema.optional(),
  createdAt: z.string().optional(),
};

const tabularClassifierSchema = z.object({
  kind: z.literal('tabular-classifier'),
  ...common,
  labels: z.array(z.string().min(1).max(200)).min(2).max(TABULAR_LIMITS.maxLabels),
  calibration: calibrationSchema.optional(),
});

const tabularRegressorSchema = z.object({
  kind: z.literal('tabular-regressor'),
  ...common,
  /** What the number means, e.g. "quality score (3-8)". */
  target: z.object({ name: z.string().min(1).max(100), description: z.string().max(500).optional(), min: z.number().optional(), max: z.number().optional() }),
  errors: errorDistributionSchema.optional(),
});

export const tabularMetadataSchema = z
  .discriminatedUnion('kind', [tabularClassifierSchema, tabularRegressorSchema])
  .superRefine((m, ctx) => {
    const n = m.features.length;
    if (m.standardization.mean.length !== n || m.standardization.std.length !== n) {
      ctx.addIssue({ code: 'custom', path: ['standardization'], message: `standardization needs one mean and one std per feature (${n})` });
    }
    if (new Set(m.features.map((f) => f.name)).size !== n) ctx.addIssue({ code: 'custom', path: ['features'], message: 'feature names must be unique' });
  });

export type TabularMetadata = z.infer<typeof tabularMetadataSchema>;
