/**
 * Tabular models through the Open Inference Protocol:
 *   in:  features FP32 | FP64 [N, F], in the declared feature order
 *   out: probabilities FP32 [N, C] and label BYTES [N] (classifier), or prediction FP32 [N] (regressor)
 */
import { TensorError, type InputTensor } from '../../protocols/open-inference/tensors.js';
import type { Outcome } from '../../serving/errors.js';
import { classTensors, valueTensors } from '../answers.js';
import type { OpenInferenceMapping } from '../kind.js';
import type { TabularMetadata } from './metadata.js';

const FEATURES_INPUT = 'features';

export function tabularTensors(metadata: TabularMetadata): OpenInferenceMapping<unknown> {
  const names = metadata.features.map((f) => f.name);
  const features = names.length;
  const out = metadata.kind === 'tabular-classifier' ? classTensors(metadata.labels) : valueTensors;
  return {
    inputs: [{ name: FEATURES_INPUT, datatype: 'FP32', shape: [-1, features] }],
    outputs: out.outputs,
    properties: {
      features: names.join(','),
      [`${FEATURES_INPUT}.accepts`]: `FP32 or FP64 [-1, ${features}], in the order of 'features'`,
      ...(metadata.kind === 'tabular-classifier' ? { labels: metadata.labels.join(',') } : {}),
    },
    items: 'rows',
    decode(input: InputTensor): Outcome<unknown>[] {
      if (input.datatype !== 'FP32' && input.datatype !== 'FP64') throw new TensorError(`input '${input.name}' has datatype ${input.datatype}; send FP32 or FP64 [N, ${features}]`);
      if (input.shape.length !== 2 || input.shape[1] !== features) {
        throw new TensorError(`input '${input.name}' must have shape [N, ${features}] (${names.join(', ')}), got [${input.shape.join(', ')}]`);
      }
      const n = input.shape[0]!;
      return Array.from({ length: n }, (_, i) => ({ ok: true, value: Array.from(input.values.subarray(i * features, (i + 1) * features)) }));
    },
    encode: out.encode,
  };
}
