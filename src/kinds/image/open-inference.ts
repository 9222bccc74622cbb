/**
 * The image classifier through the Open Inference Protocol:
 *   in:  image BYTES [N] (encoded files) or UINT8 [N, H, W, 3] (RGB pixels)
 *   out: probabilities FP32 [N, C], label BYTES [N]
 */
import { parseBase64 } from '../../preprocessing/base64.js';
import { TensorError, type InputTensor } from '../../protocols/open-inference/tensors.js';
import { invalidInput, type Outcome } from '../../serving/errors.js';
import { classTensors } from '../answers.js';
import type { OpenInferenceMapping } from '../kind.js';
import type { ImageInput } from './inputs.js';
import type { ImageMetadata } from './metadata.js';
import { SUPPORTED_FORMATS } from '../../preprocessing/image.js';

const IMAGE_INPUT = 'image';

function decode(input: InputTensor): Outcome<ImageInput>[] {
  if (input.datatype === 'BYTES') {
    if (input.shape.length !== 1) throw new TensorError(`input '${input.name}' is BYTES: its shape must be [N] (one encoded image file per element), got [${input.shape.join(', ')}]`);
    return input.elements.map((e, i): Outcome<ImageInput> => {
      if (typeof e !== 'string') return { ok: true, value: { bytes: e } };
      // JSON cannot carry raw bytes: an image in JSON is base64 text.
      const bytes = parseBase64(e);
      return bytes ? { ok: true, value: { bytes } } : { ok: false, error: invalidInput('invalid-base64', `element ${i} is not valid base64 (BYTES images in JSON are base64 text)`) };
    });
  }
  if (input.datatype === 'UINT8') {
    const [n = 0, height = 0, width = 0, channels] = input.shape;
    if (input.shape.length !== 4 || channels !== 3 || height === 0 || width === 0) {
      throw new TensorError(`input '${input.name}' is UINT8: its shape must be [N, H, W, 3] (RGB pixels, row-major), got [${input.shape.join(', ')}]`);
    }
    const size = height * width * 3;
    const values = input.values as Uint8Array;
    return Array.from({ length: n }, (_, i) => ({ ok: true, value: { bytes: values.subarray(i * size, (i + 1) * size), pixels: { width, height } } }));
  }
  throw new TensorError(`input '${input.name}' has datatype ${input.datatype}; send BYTES [N] (encoded image files) or UINT8 [N, H, W, 3] (RGB pixels)`);
}

export function imageTensors(metadata: ImageMetadata): OpenInferenceMapping<ImageInput> {
  const { width, height } = metadata.preprocessing;
  const classes = classTensors(metadata.labels);
  return {
    inputs: [{ name: IMAGE_INPUT, datatype: 'BYTES', shape: [-1] }],
    outputs: classes.outputs,
    properties: {
      labels: metadata.labels.join(','),
      [`${IMAGE_INPUT}.accepts`]: `BYTES [-1] (encoded image files: ${SUPPORTED_FORMATS.join(', ')}) or UINT8 [-1, H, W, 3] (RGB pixels, resized to ${height}x${width} when they differ)`,
    },
    items: 'images',
    decode,
    encode: classes.encode,
  };
}
