/**
 * The `onnx` section of a version's metadata.json: which file holds the ONNX model, the names
 * of the tensors to feed and fetch, and what to apply to the output. Everything is optional
 * for a model with one input and one output in model.onnx; a model exported from PyTorch
 * names its tensors here (and an image model sets `preprocessing.layout: "NCHW"`).
 */
import { z } from 'zod';

export const ONNX_FILE = 'model.onnx';

const tensorName = z.string().min(1).max(256);

export const onnxSectionSchema = z.object({
  /** The model file, inside the version folder. */
  file: z
    .string()
    .regex(/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,200}\.onnx$/, 'a file name in the version folder ending in .onnx')
    .default(ONNX_FILE),
  /** The input tensor to feed (default: the model's only input). */
  input: tensorName.optional(),
  /** The output tensor to fetch (default: the model's first output). */
  output: tensorName.optional(),
  /** `softmax` when the model ends in logits (most PyTorch classifiers): probabilities are computed after it. */
  outputTransform: z.enum(['none', 'softmax']).default('none'),
  /** Written by `npm run export:onnx`: how the exported graph compared with the TF.js model. */
  check: z.record(z.string(), z.unknown()).optional(),
});

export type OnnxSection = z.infer<typeof onnxSectionSchema>;
