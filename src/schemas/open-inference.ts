/**
 * The Open Inference Protocol's response objects (KServe V2, `open_inference_rest.yaml`), for
 * the routes' serialization and the OpenAPI document. Requests are parsed in
 * protocols/open-inference/tensors.ts (they may carry binary data).
 */
import { z } from 'zod';

const parameters = z.record(z.string(), z.union([z.string(), z.number(), z.boolean()]));

export const v2ErrorSchema = z.object({ error: z.string().describe('What went wrong') }).meta({ id: 'V2Error', example: { error: "unknown input 'pixels'; model 'cifar10' takes one input, 'image'" } });

export const v2ServerMetadataSchema = z
  .object({
    name: z.string(),
    version: z.string(),
    extensions: z.array(z.string()).describe('binary_tensor_data (Triton binary tensor data extension), model_repository (Triton model repository extension)'),
  })
  .meta({ id: 'V2ServerMetadata', example: { name: 'ml-inference-api', version: '0.1.0', extensions: ['binary_tensor_data', 'model_repository'] } });

export const v2LiveSchema = z.object({ live: z.boolean() }).meta({ id: 'V2ServerLive', example: { live: true } });
export const v2ReadySchema = z.object({ ready: z.boolean() }).meta({ id: 'V2ServerReady', example: { ready: true } });
export const v2ModelReadySchema = z.object({ name: z.string(), ready: z.boolean() }).meta({ id: 'V2ModelReady', example: { name: 'cifar10', ready: true } });

const tensorMetadata = z
  .object({
    name: z.string(),
    datatype: z.string(),
    shape: z.array(z.number().int()).describe('-1 for a dimension of any size (the batch)'),
  })
  .meta({ id: 'V2TensorMetadata' });

export const v2ModelMetadataSchema = z
  .object({
    name: z.string(),
    versions: z.array(z.string()).describe('The versions that can be named in the URL (those AVAILABLE)'),
    platform: z.string().describe('onnx_onnxv1 (ONNX Runtime) or tensorflowjs_layers (TensorFlow.js)'),
    inputs: z.array(tensorMetadata),
    outputs: z.array(tensorMetadata),
    properties: z.record(z.string(), z.string()).describe('kind, runtime, backend, labels or features, and the tensor forms each input accepts'),
  })
  .meta({
    id: 'V2ModelMetadata',
    example: {
      name: 'cifar10',
      versions: ['1'],
      platform: 'onnx_onnxv1',
      inputs: [{ name: 'image', datatype: 'BYTES', shape: [-1] }],
      outputs: [
        { name: 'probabilities', datatype: 'FP32', shape: [-1, 10] },
        { name: 'label', datatype: 'BYTES', shape: [-1] },
      ],
      properties: { kind: 'image-classifier', runtime: 'onnx', backend: 'cpu' },
    },
  });

const tensorData = z.array(z.union([z.number(), z.string(), z.boolean()]));

export const v2InferenceResponseSchema = z
  .object({
    model_name: z.string(),
    model_version: z.string(),
    id: z.string().optional().describe("The request's id, when it had one"),
    parameters: parameters.optional(),
    outputs: z.array(
      z.object({
        name: z.string(),
        shape: z.array(z.number().int()),
        datatype: z.string(),
        parameters: parameters.optional().describe('binary_data_size: the output is in the binary part of the body instead of data'),
        data: tensorData.optional().describe('Row-major, flattened; absent for a binary output'),
      }),
    ),
  })
  .meta({
    id: 'V2InferenceResponse',
    example: {
      model_name: 'cifar10',
      model_version: '1',
      id: '42',
      outputs: [
        { name: 'probabilities', shape: [1, 10], datatype: 'FP32', data: [0.0012, 0.0003, 0.0101, 0.8411, 0.0055, 0.1201, 0.0132, 0.0061, 0.0017, 0.0007] },
        { name: 'label', shape: [1], datatype: 'BYTES', data: ['cat'] },
      ],
    },
  });

export const v2RepositoryIndexRequestSchema = z.object({ ready: z.boolean().optional().describe('Only the versions that are ready (true) or not ready (false)') });

export const v2RepositoryIndexSchema = z
  .array(
    z.object({
      name: z.string(),
      version: z.string().optional(),
      state: z.enum(['READY', 'LOADING', 'UNLOADING', 'UNAVAILABLE']),
      reason: z.string().optional(),
    }),
  )
  .meta({
    id: 'V2RepositoryIndex',
    example: [
      { name: 'cifar10', version: '1', state: 'READY' },
      { name: 'iris', state: 'UNAVAILABLE', reason: 'unloaded' },
    ],
  });

export const v2RepositoryActionSchema = z.object({ parameters: z.record(z.string(), z.unknown()).optional().describe('Not supported: models load from the repository as they are') });

export const v2LoadResultSchema = z
  .object({ name: z.string(), load: z.boolean().optional(), unload: z.boolean().optional() })
  .meta({ id: 'V2LoadResult', example: { name: 'cifar10', load: true } });

/** V2 error responses a route can produce, for its OpenAPI entry. */
export function v2ErrorResponses(...codes: number[]): Record<number, typeof v2ErrorSchema> {
  return Object.fromEntries(codes.map((c) => [c, v2ErrorSchema]));
}
