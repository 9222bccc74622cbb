/** The image-classifier kind: metadata.json with labels and a preprocessing contract, and a model (TF.js or ONNX) over prepared images. */
import sharp from 'sharp';
import type { ModelMetadata } from '../inference/metadata.js';
import { prepareImage } from '../preprocessing/image.js';
import type { ModelKind } from './kind.js';

/** A 48×40 colour gradient: decoded, resized and normalised like an uploaded photo. */
async function gradientPng(): Promise<Buffer> {
  const width = 48;
  const height = 40;
  const rgb = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 3;
      rgb[i] = Math.round((x / width) * 255);
      rgb[i + 1] = Math.round((y / height) * 255);
      rgb[i + 2] = 128;
    }
  }
  return sharp(rgb, { raw: { width, height, channels: 3 } }).png().toBuffer();
}

export const imageClassifier: ModelKind<ModelMetadata> = {
  async check(metadata) {
    const [h, w] = metadata.inputShape;
    const { width, height } = metadata.preprocessing;
    if (width !== w || height !== h) {
      throw new Error(`metadata.json: preprocessing makes ${width}×${height} images but inputShape is ${w}×${h}`);
    }
  },

  // NCHW models take planes: [C, H, W] (the preprocessing writes them in that order).
  signature(metadata) {
    const [h, w, c] = metadata.inputShape;
    return { inputShape: metadata.preprocessing.layout === 'NCHW' ? [c, h, w] : [h, w, c], outputs: metadata.labels.length };
  },

  async sampleInput(metadata) {
    const image = await prepareImage(await gradientPng(), metadata.preprocessing, { maxInputPixels: 10_000 });
    return image.input;
  },

  checkOutput(metadata, output) {
    if (output.length !== metadata.labels.length) throw new Error(`the model gave ${output.length} outputs for ${metadata.labels.length} labels`);
    if (!output.every((p) => Number.isFinite(p) && p >= 0 && p <= 1)) throw new Error('the model gave values that are not probabilities on a sample image');
    const sum = output.reduce((a, b) => a + b, 0);
    if (Math.abs(sum - 1) > 1e-3) throw new Error(`the model's probabilities sum to ${sum.toFixed(4)} on a sample image, not 1`);
  },

  describe(metadata) {
    return {
      kind: metadata.kind,
      description: metadata.description ?? null,
      labels: [...metadata.labels],
      input_shape: [...metadata.inputShape],
      parameters: metadata.parameters,
      accuracy: metadata.validation?.accuracy ?? null,
    };
  },
};
