/**
 * The answer forms kinds share: a class (probabilities, top-k) or a value; their native JSON,
 * their schemas, and their Open Inference Protocol output tensors.
 */
import { z } from 'zod';
import { argMax, toPrediction } from '../inference/postprocess.js';
import type { OutputTensor, TensorMetadata } from '../protocols/open-inference/tensors.js';
import { modelRefSchema, topKEntrySchema } from '../schemas/predict.js';
import type { Summary } from './kind.js';

const cached = z.boolean().describe('True when answered from the prediction cache (same input, same model version) without decoding or inference');
const warnings = z.array(z.string()).optional().describe('Tabular inputs: feature values outside the range seen in training (answered all the same)');

const exampleProbabilities = [0.002, 0.001, 0.011, 0.912, 0.009, 0.048, 0.01, 0.004, 0.002, 0.001];

/** A classifier's answer. */
export const predictionSchema = z
  .object({
    class_label: z.string().describe('Most likely class'),
    class_index: z.number().int().min(0).describe('Index of class_label in the model labels'),
    confidence: z.number().min(0).max(1).describe('Probability of class_label'),
    probabilities: z.array(z.number().min(0).max(1)).describe('One probability per label, in label order'),
    top_k: z.array(topKEntrySchema).describe('The top_k most likely labels, most likely first'),
    cached,
    warnings,
    model: modelRefSchema,
    latency_ms: z.number().describe('Server time for this request, decoding included'),
  })
  .meta({
    id: 'Prediction',
    example: {
      class_label: 'cat',
      class_index: 3,
      confidence: 0.912,
      probabilities: exampleProbabilities,
      top_k: [
        { label: 'cat', probability: 0.912 },
        { label: 'dog', probability: 0.048 },
        { label: 'bird', probability: 0.011 },
      ],
      cached: false,
      model: { name: 'cifar10', version: '1' },
      latency_ms: 4.1,
    },
  });

/** The answer of a model that predicts one value. */
export const regressionSchema = z
  .object({ prediction: z.number().describe('The predicted value'), cached, warnings, model: modelRefSchema, latency_ms: z.number().describe('Server time for this request') })
  .meta({ id: 'Regression', example: { prediction: 5.62, cached: false, model: { name: 'wine-quality', version: '1' }, latency_ms: 1.2 } });

/** The class answer of a probability vector. */
export const classAnswer = (labels: readonly string[]) => (output: Float32Array, topK: number): Record<string, unknown> => ({ ...toPrediction(output, labels, topK) });

export const classSummary =
  (labels: readonly string[]) =>
  (output: Float32Array): Summary => {
    const best = argMax(output);
    return { label: labels[best]!, confidence: output[best]! };
  };

/** Throws unless `output` is one probability per label, summing to 1 (`on` names the sample input in the message). */
export function checkProbabilities(output: Float32Array, labels: readonly string[], on: string): void {
  if (output.length !== labels.length) throw new Error(`the model gave ${output.length} outputs for ${labels.length} labels`);
  if (!output.every((p) => Number.isFinite(p) && p >= 0 && p <= 1)) throw new Error(`the model gave values that are not probabilities on ${on}`);
  const sum = output.reduce((a, b) => a + b, 0);
  if (Math.abs(sum - 1) > 1e-3) throw new Error(`the model's probabilities sum to ${sum.toFixed(4)} on ${on}, not 1`);
}

/** A value rounded as answers give it. */
export const roundValue = (v: number): number => Math.round(v * 1e6) / 1e6;

/** Output tensors of a classifier: probabilities FP32 [N, C] and label BYTES [N]. */
export function classTensors(labels: readonly string[]): { outputs: TensorMetadata[]; encode(rows: readonly Float32Array[]): Record<string, OutputTensor> } {
  const classes = labels.length;
  return {
    outputs: [
      { name: 'probabilities', datatype: 'FP32', shape: [-1, classes] },
      { name: 'label', datatype: 'BYTES', shape: [-1] },
    ],
    encode(rows) {
      const probabilities = new Float32Array(rows.length * classes);
      rows.forEach((p, i) => probabilities.set(p, i * classes));
      return {
        probabilities: { name: 'probabilities', datatype: 'FP32', shape: [rows.length, classes], values: probabilities },
        label: { name: 'label', datatype: 'BYTES', shape: [rows.length], elements: rows.map((p) => labels[argMax(p)]!) },
      };
    },
  };
}

/** Output tensor of a one-value model: prediction FP32 [N]. */
export const valueTensors = {
  outputs: [{ name: 'prediction', datatype: 'FP32', shape: [-1] }] satisfies TensorMetadata[],
  encode(rows: readonly Float32Array[]): Record<string, OutputTensor> {
    return { prediction: { name: 'prediction', datatype: 'FP32', shape: [rows.length], values: Float32Array.from(rows, (o) => o[0]!) } };
  },
};
