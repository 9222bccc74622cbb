/** The image-classifier kind: metadata.json with labels and a preprocessing contract, and a model (TF.js or ONNX) over prepared images. */
import sharp from 'sharp';
import { configureImageDecoding, prepareImage, preparePixels } from '../../preprocessing/image.js';
import { tooLarge } from '../../serving/errors.js';
import { checkProbabilities, classAnswer, classSummary, predictionSchema } from '../answers.js';
import type { BindContext, KindModel, ModelKind } from '../kind.js';
import { parseMetadata, temperatureOf } from '../metadata.js';
import { imageStep } from './errors.js';
import { planImageExplanation } from './explain.js';
import { readBatchImages, readSingleImage, type ImageInput } from './inputs.js';
import { imageMetadataSchema, type ImageMetadata } from './metadata.js';
import { imageTensors } from './open-inference.js';
import { imageOpenApi, imageRequestBodies } from './openapi.js';
import { imageExplanationSchema } from './schemas.js';

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

function check(metadata: ImageMetadata): ImageMetadata {
  const [h, w] = metadata.inputShape;
  const { width, height } = metadata.preprocessing;
  if (width !== w || height !== h) throw new Error(`metadata.json: preprocessing makes ${width}×${height} images but inputShape is ${w}×${h}`);
  return metadata;
}

function bind(metadata: ImageMetadata, { limits }: BindContext): KindModel<ImageInput> {
  configureImageDecoding();
  const contract = metadata.preprocessing;
  const [h, w, c] = metadata.inputShape;
  const nchw = contract.layout === 'NCHW';
  const labels = metadata.labels;
  const prepare = (input: ImageInput) => async () => {
    const image = await imageStep(() => (input.pixels ? preparePixels(input.bytes, input.pixels, contract, limits) : prepareImage(input.bytes, contract, limits)));
    return { tensor: image.input, note: image.format };
  };
  const inspect = (input: ImageInput) => {
    if (input.bytes.length > limits.maxUploadBytes) throw tooLarge(`the image is ${input.bytes.length} bytes; the limit is ${limits.maxUploadBytes}`);
    // Raw pixels are keyed apart from files: the same bytes mean a different image.
    return { key: { bytes: input.bytes, ...(input.pixels && { variant: `rgb${input.pixels.width}x${input.pixels.height}` }) }, warnings: [], prepare: prepare(input) };
  };
  return {
    kind: metadata.kind,
    labels,
    // NCHW models take planes: [C, H, W] (the preprocessing writes them in that order).
    signature: { inputShape: nchw ? [c, h, w] : [h, w, c], outputs: labels.length },
    runtime: { ...(metadata.onnx && { onnx: metadata.onnx }), ...temperatureOf(metadata.calibration), ...(nchw && { only: { runtime: 'onnx', why: 'preprocessing.layout NCHW is served by ONNX Runtime' } }) },
    contract: JSON.stringify(contract),

    async sampleInput() {
      const image = await prepareImage(await gradientPng(), contract, { maxInputPixels: 10_000 });
      return image.input;
    },
    checkOutput: (output) => checkProbabilities(output, labels, 'a sample image'),
    describe: () => ({
      kind: metadata.kind,
      description: metadata.description ?? null,
      labels: [...labels],
      input_shape: [...metadata.inputShape],
      parameters: metadata.parameters,
      accuracy: metadata.validation?.accuracy ?? null,
      calibration: metadata.calibration ?? null,
    }),

    readSingle: readSingleImage,
    readBatch: (body) => readBatchImages(body, limits),
    inspect,
    answer: (output, { topK }) => classAnswer(labels)(output, topK),
    summarize: classSummary(labels),
    openInference: imageTensors(metadata),
    planExplanation: (input, request) => planImageExplanation(metadata, () => inspect(input), request),
    openApi: imageOpenApi,
  };
}

export const imageClassifierKind: ModelKind<ImageMetadata> = {
  names: ['image-classifier'],
  parseMetadata: (raw) => check(parseMetadata(imageMetadataSchema, raw)),
  bind,
  answerSchemas: [predictionSchema],
  explanationSchemas: [imageExplanationSchema],
  requestBodies: imageRequestBodies,
};
