/**
 * The text classifier through the Open Inference Protocol:
 *   in:  text BYTES [N] (JSON strings, or the binary extension's length-prefixed UTF-8 elements)
 *   out: probabilities FP32 [N, C], label BYTES [N]
 */
import { TextDecoder } from 'node:util';
import { TensorError, type InputTensor } from '../../protocols/open-inference/tensors.js';
import { invalidInput, type Outcome } from '../../serving/errors.js';
import { classTensors } from '../answers.js';
import type { OpenInferenceMapping } from '../kind.js';
import type { TextMetadata } from './metadata.js';
import type { TextInput } from './pipeline.js';

const TEXT_INPUT = 'text';

function decode(input: InputTensor): Outcome<TextInput>[] {
  if (input.datatype !== 'BYTES') throw new TensorError(`input '${input.name}' has datatype ${input.datatype}; send BYTES [N], one text per element`);
  if (input.shape.length !== 1) throw new TensorError(`input '${input.name}' is BYTES: its shape must be [N] (one text per element), got [${input.shape.join(', ')}]`);
  const utf8 = new TextDecoder('utf-8', { fatal: true });
  return input.elements.map((e, i): Outcome<TextInput> => {
    if (typeof e === 'string') return { ok: true, value: { text: e } };
    try {
      return { ok: true, value: { text: utf8.decode(e) } };
    } catch {
      return { ok: false, error: invalidInput('invalid-utf8', `element ${i} is not valid UTF-8 (binary BYTES texts are UTF-8)`) };
    }
  });
}

export function textTensors(metadata: TextMetadata): OpenInferenceMapping<TextInput> {
  const classes = classTensors(metadata.labels);
  return {
    inputs: [{ name: TEXT_INPUT, datatype: 'BYTES', shape: [-1] }],
    outputs: classes.outputs,
    properties: {
      labels: metadata.labels.join(','),
      [`${TEXT_INPUT}.accepts`]: `BYTES [-1]: one UTF-8 text per element (plain text, or a whole RFC 822 e-mail, detected), at most MAX_TEXT_BYTES each`,
    },
    items: 'texts',
    decode,
    encode: classes.encode,
  };
}
