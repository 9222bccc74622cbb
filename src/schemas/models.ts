import { z } from 'zod';
import { RUNTIME_NAMES } from '../runtimes/runtime.js';

/** Which runtime serves a loaded version, and on which backend. */
const served = {
  runtime: z.enum(RUNTIME_NAMES).optional().describe('The runtime serving the version (tfjs: TensorFlow.js, onnx: ONNX Runtime); absent unless loaded'),
  backend: z.string().optional().describe('The runtime\'s backend: tensorflow, wasm or cpu (TF.js); cpu (ONNX Runtime)'),
};

export const versionStatusSchema = z
  .object({
    version: z.string().describe('The version folder number'),
    state: z.enum(['LOADING', 'AVAILABLE', 'UNLOADING', 'FAILED']),
    reason: z.string().optional().describe('Why the version failed, or why new files for it were not taken'),
    ...served,
  })
  .meta({ id: 'VersionStatus' });

const modelFields = {
  name: z.string(),
  kind: z.string().nullable().describe('The model kind (image-classifier), null while no version is loaded'),
  default_version: z.string().nullable().describe('The version serving requests that name none, null while none can'),
  versions: z.array(versionStatusSchema),
};

export const modelEntrySchema = z.object(modelFields).meta({ id: 'ModelEntry' });

export const modelListSchema = z
  .object({ models: z.array(modelEntrySchema) })
  .meta({
    id: 'ModelList',
    example: { models: [{ name: 'cifar10', kind: 'image-classifier', default_version: '1', versions: [{ version: '1', state: 'AVAILABLE', runtime: 'onnx', backend: 'cpu' }] }] },
  });

const metadataSchema = z.record(z.string(), z.unknown()).nullable().describe("What the version's metadata.json says (labels, input shape, accuracy …)");

export const modelDetailSchema = z.object({ ...modelFields, metadata: metadataSchema }).meta({ id: 'ModelDetail' });

const evaluationLinkSchema = z
  .object({
    href: z.string().describe('GET: the whole evaluation (per-class figures, confusion matrix, reliability bins or errors)'),
    card: z.string().nullable().describe('The model card written with it, a path in the project (docs/models/<name>.md)'),
    figures: z.record(z.string(), z.string()).describe('PNG pictures drawn from it, by name: confusion, reliability (classifiers), errors (regressors)'),
    summary: z.record(z.string(), z.unknown()).describe('Its headline figures: accuracy with a bootstrap interval and calibration, or the error distribution'),
  })
  .nullable()
  .describe('The version\'s evaluation on held-out data (`npm run evaluate`), null when it has none');

export const versionDetailSchema = z
  .object({ name: z.string(), version: z.string(), state: versionStatusSchema.shape.state, reason: z.string().optional(), ...served, metadata: metadataSchema, evaluation: evaluationLinkSchema })
  .meta({ id: 'VersionDetail' });

export const modelReadySchema = z.object({ name: z.string(), ready: z.literal(true), version: z.string() }).meta({ id: 'ModelReady' });

export const modelParamsSchema = z.object({ name: z.string().describe('Model name') });
export const versionParamsSchema = z.object({ name: z.string().describe('Model name'), version: z.string().describe('Model version') });
export const figureParamsSchema = versionParamsSchema.extend({ figure: z.string().describe('confusion.png, reliability.png (classifiers) or errors.png (regressors)') });
