/**
 * The Open Inference Protocol (KServe V2 REST) over real HTTP on the real app with the
 * shipped models, driven by a client built like Triton's and KServe's HTTP clients. Every
 * response is validated against the protocol's schemas (helpers/open-inference.ts).
 */
import type { FastifyInstance } from 'fastify';
import sharp from 'sharp';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../helpers/app.js';
import * as img from '../helpers/images.js';
import { checkConformance, InferInput, InferRequestedOutput, serializeBytes, V2Client, validated, type Operation, type Reply } from '../helpers/open-inference.js';
import { TempRepository } from '../helpers/repository.js';

const SETOSA = [5.1, 3.5, 1.4, 0.2];
const VIRGINICA = [6.7, 3.0, 5.2, 2.3];
const WINE = [7.4, 0.7, 0, 1.9, 0.076, 11, 34, 0.9978, 3.51, 0.56, 9.4];
const ADMIN_KEY = 'admin-key-0123456789abcdef';

async function listen(app: FastifyInstance): Promise<string> {
  await app.listen({ port: 0, host: '127.0.0.1' });
  const { port } = app.server.address() as { port: number };
  return `http://127.0.0.1:${port}`;
}

function expectError(reply: Reply, status: number, message: RegExp): void {
  expect(reply.status, JSON.stringify(reply.body)).toBe(status);
  expect(Object.keys(reply.body as object)).toEqual(['error']);
  expect((reply.body as { error: string }).error).toMatch(message);
}

/** Decoded RGB pixels of a photo at its own size (32×32 for the fixtures). */
async function pixels(photo: Buffer): Promise<{ rgb: Uint8Array; width: number; height: number }> {
  const { data, info } = await sharp(photo).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return { rgb: new Uint8Array(data), width: info.width, height: info.height };
}

/** The native API's answer for one image file. */
async function nativeProbabilities(base: string, file: Buffer, type = 'image/jpeg'): Promise<number[]> {
  const res = await fetch(`${base}/predict`, { method: 'POST', headers: { 'content-type': type }, body: file });
  expect(res.status).toBe(200);
  return ((await res.json()) as { probabilities: number[] }).probabilities;
}

const round6 = (values: number[]): number[] => values.map((p) => Math.round(p * 1e6) / 1e6);

describe('Open Inference Protocol', () => {
  let app: FastifyInstance;
  let base: string;
  let triton: V2Client;
  let kserve: V2Client;
  beforeAll(async () => {
    app = await buildApp({ MAX_BATCH_FILES: '8', MAX_BATCH_UPLOAD_BYTES: String(256 * 1024) });
    base = await listen(app);
    triton = new V2Client(base, 'triton');
    kserve = new V2Client(base, 'kserve');
  });
  afterAll(async () => {
    await app.close();
  });

  describe('server and model metadata, health', () => {
    it('GET /v2 names the server, its version and the extensions it speaks', async () => {
      const res = await triton.serverMetadata();
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ name: 'ml-inference-api', version: expect.any(String), extensions: ['binary_tensor_data', 'model_repository'] });
      expect((await triton.send('server_metadata', 'GET', '/v2/')).body).toEqual(res.body);
    });

    it('live and ready answer the probes', async () => {
      expect((await triton.isServerLive()).body).toEqual({ live: true });
      expect((await triton.isServerReady()).body).toEqual({ ready: true });
    });

    it('model metadata: platform, tensors with -1 for the batch, versions, for every kind', async () => {
      const cifar = await kserve.modelMetadata('cifar10');
      expect(cifar.status).toBe(200);
      expect(cifar.body).toMatchObject({
        name: 'cifar10',
        versions: ['1'],
        platform: 'onnx_onnxv1',
        inputs: [{ name: 'image', datatype: 'BYTES', shape: [-1] }],
        outputs: [
          { name: 'probabilities', datatype: 'FP32', shape: [-1, 10] },
          { name: 'label', datatype: 'BYTES', shape: [-1] },
        ],
        properties: { kind: 'image-classifier', runtime: 'onnx', labels: img.LABELS.join(',') },
      });
      expect((cifar.body as { properties: Record<string, string> }).properties['image.accepts']).toMatch(/UINT8 \[-1, H, W, 3\]/);
      const iris = await triton.modelMetadata('iris', '1');
      expect(iris.body).toMatchObject({
        name: 'iris',
        inputs: [{ name: 'features', datatype: 'FP32', shape: [-1, 4] }],
        outputs: [{ name: 'probabilities', shape: [-1, 3] }, { name: 'label' }],
        properties: { kind: 'tabular-classifier', features: 'sepal_length,sepal_width,petal_length,petal_width' },
      });
      const wine = await triton.modelMetadata('wine-quality');
      expect(wine.body).toMatchObject({ inputs: [{ name: 'features', shape: [-1, 11] }], outputs: [{ name: 'prediction', datatype: 'FP32', shape: [-1] }] });
    });

    it('model ready, and the errors of model routes: unknown model or version 404, invalid name 400', async () => {
      expect((await triton.isModelReady('cifar10')).body).toEqual({ name: 'cifar10', ready: true });
      expect((await triton.isModelReady('iris', '1')).body).toEqual({ name: 'iris', ready: true });
      expectError(await triton.isModelReady('resnet'), 404, /no model named 'resnet'/);
      expectError(await triton.isModelReady('cifar10', '7'), 404, /version 7/);
      expectError(await triton.modelMetadata('resnet'), 404, /resnet/);
      expectError(await triton.modelMetadata('cifar10', 'latest'), 400, /version/);
      expectError(await triton.modelMetadata('bad name'), 400, /name/);
    });

    it('unknown routes under /v2 answer {"error"} too', async () => {
      expectError(await triton.send('infer', 'POST', '/v2/models/cifar10/explain', '{}'), 404, /^no route POST \/v2\/models\/cifar10\/explain$/);
    });
  });

  describe('images', () => {
    it('BYTES in JSON (base64) gives the probabilities /predict gives, the label, and echoes the id', async () => {
      const photo = img.photo('cat');
      const res = await kserve.infer('cifar10', [new InferInput('image', [1], 'BYTES').setData([photo], false)], { id: 'req-42' });
      expect(res.status).toBe(200);
      expect(res.headers.get('x-model-version')).toBe('1');
      expect(res.body).toMatchObject({ model_name: 'cifar10', model_version: '1', id: 'req-42' });
      const probabilities = res.result!.asNumbers('probabilities');
      expect(res.result!.output('probabilities').shape).toEqual([1, 10]);
      expect(round6(probabilities)).toEqual(await nativeProbabilities(base, photo));
      expect(res.result!.asStrings('label')).toEqual(['cat']);
    });

    it('BYTES as binary data, outputs as binary data: the same float32 values as JSON', async () => {
      const photos = (['dog', 'ship', 'truck'] as const).map((l) => img.photo(l));
      const labels = await Promise.all(photos.map(async (p) => ((await (await fetch(`${base}/predict`, { method: 'POST', headers: { 'content-type': 'image/jpeg' }, body: p })).json()) as { class_label: string }).class_label));
      const json = await triton.infer('cifar10', [new InferInput('image', [3], 'BYTES').setData(photos, false)], { outputs: [new InferRequestedOutput('probabilities'), new InferRequestedOutput('label')] });
      const binary = await triton.infer('cifar10', [new InferInput('image', [3], 'BYTES').setData(photos, true)]);
      expect(binary.status).toBe(200);
      expect(binary.headers.get('content-type')).toBe('application/octet-stream');
      // With no outputs named, tritonclient asks for every output in binary.
      expect(binary.result!.output('probabilities').parameters).toEqual({ binary_data_size: 3 * 10 * 4 });
      expect(binary.result!.output('probabilities').data).toBeUndefined();
      expect(binary.result!.asNumbers('probabilities')).toEqual(json.result!.asNumbers('probabilities'));
      expect(binary.result!.asStrings('label')).toEqual(labels);
      expect(json.result!.asStrings('label')).toEqual(labels);
    });

    it('outputs selects what comes back, each as JSON or binary', async () => {
      const input = new InferInput('image', [1], 'BYTES').setData([img.photo('frog')], true);
      const onlyLabel = await triton.infer('cifar10', [input], { outputs: [new InferRequestedOutput('label')] });
      expect(onlyLabel.result!.response.outputs.map((o) => o.name)).toEqual(['label']);
      expect(onlyLabel.headers.get('content-type')).toMatch(/^application\/json/);
      const mixed = await kserve.infer('cifar10', [input], { outputs: [new InferRequestedOutput('label', true), new InferRequestedOutput('probabilities')] });
      const label = onlyLabel.result!.asStrings('label')[0]!;
      expect(mixed.result!.output('label').parameters).toEqual({ binary_data_size: 4 + label.length });
      expect(mixed.result!.output('probabilities').data).toHaveLength(10);
      expect(mixed.result!.asStrings('label')).toEqual([label]);
      // A request-level binary_data_output, overridden per output.
      const overridden = await triton.infer('cifar10', [input], { parameters: { binary_data_output: true }, outputs: [new InferRequestedOutput('label'), { name: 'probabilities', binary: false, tensor: () => ({ name: 'probabilities', parameters: { binary_data: false } }) } as InferRequestedOutput] });
      expect(overridden.result!.output('label').parameters).toEqual({ binary_data_size: 4 + label.length });
      expect(overridden.result!.output('probabilities').data).toHaveLength(10);
    });

    it('UINT8 [N, H, W, 3] raw pixels, JSON and binary, give what /predict gives for the same pixels as a PNG', async () => {
      const cat = await pixels(img.photo('cat'));
      const horse = await pixels(img.photo('horse'));
      const batch = new Uint8Array([...cat.rgb, ...horse.rgb]);
      const binary = await triton.infer('cifar10', [new InferInput('image', [2, 32, 32, 3], 'UINT8').setData(batch, true)]);
      expect(binary.status).toBe(200);
      const json = await kserve.infer('cifar10', [new InferInput('image', [2, 32, 32, 3], 'UINT8').setData(batch, false)]);
      expect(json.result!.asNumbers('probabilities')).toEqual(binary.result!.asNumbers('probabilities'));
      const catPng = await sharp(cat.rgb, { raw: { width: 32, height: 32, channels: 3 } }).png().toBuffer();
      expect(round6(binary.result!.asNumbers('probabilities').slice(0, 10))).toEqual(await nativeProbabilities(base, catPng, 'image/png'));
      expect(binary.result!.asStrings('label')[0]).toBe(json.result!.asStrings('label')[0]);
      // Pixels at another size are resized by the model's preprocessing contract, as files are.
      const big = await sharp(img.photo('horse')).resize(64, 48, { fit: 'fill' }).removeAlpha().raw().toBuffer();
      const bigPng = await sharp(big, { raw: { width: 64, height: 48, channels: 3 } }).png().toBuffer();
      const resized = await triton.infer('cifar10', [new InferInput('image', [1, 48, 64, 3], 'UINT8').setData(new Uint8Array(big), true)]);
      expect(round6(resized.result!.asNumbers('probabilities'))).toEqual(await nativeProbabilities(base, bigPng, 'image/png'));
    });

    it('answers from the prediction cache and feeds the same metrics as the native API, labelled protocol="v2"', async () => {
      const photo = img.photo('deer');
      const input = [new InferInput('image', [1], 'BYTES').setData([photo], true)];
      const first = await triton.infer('cifar10', input);
      const metrics1 = await request(app.server).get('/metrics');
      const second = await triton.infer('cifar10', input);
      const metrics2 = await request(app.server).get('/metrics');
      expect(second.result!.asNumbers('probabilities')).toEqual(first.result!.asNumbers('probabilities'));
      const count = (text: string, re: RegExp): number => Number(re.exec(text)?.[1] ?? 0);
      const hits = /mlapi_cache_lookups_total\{cache="memory",result="hit"\} (\d+)/;
      expect(count(metrics2.text, hits) - count(metrics1.text, hits)).toBe(1);
      expect(metrics2.text).toMatch(/mlapi_http_requests_total\{method="POST",route="\/v2\/models\/:name\/infer",status_code="200",protocol="v2"\} \d+/);
      expect(metrics2.text).toMatch(/mlapi_http_requests_total\{method="GET",route="\/metrics",status_code="200",protocol="native"\} \d+/);
      const label = second.result!.asStrings('label')[0]!;
      expect(metrics2.text).toMatch(new RegExp(`mlapi_predictions_total\\{model="cifar10",version="1",class="${label}"\\} [1-9]`));
      expect(metrics2.text).toMatch(/mlapi_inference_batch_size_count\{model="cifar10",version="1"\} [1-9]/);
    });
  });

  describe('tabular models', () => {
    it('features FP64 nested and FP32 flat (JSON) and FP32 binary, with the classes /predict gives', async () => {
      const nested = await kserve.infer('iris', [new InferInput('features', [2, 4], 'FP64').setData(new Float64Array([...SETOSA, ...VIRGINICA]), false)]);
      expect(nested.status).toBe(200);
      expect(nested.result!.asStrings('label')).toEqual(['setosa', 'virginica']);
      expect(nested.result!.output('probabilities').shape).toEqual([2, 3]);
      const native = await request(app.server).post('/v1/models/iris/predict').send({ features: SETOSA });
      expect(round6(nested.result!.asNumbers('probabilities').slice(0, 3))).toEqual(native.body.probabilities);
      // Nested data, as the protocol allows.
      const body = JSON.stringify({ inputs: [{ name: 'features', shape: [2, 4], datatype: 'FP64', data: [SETOSA, VIRGINICA] }] });
      const asNested = await triton.send('infer', 'POST', '/v2/models/iris/infer', body);
      expect((asNested.body as { outputs: { data: unknown[] }[] }).outputs[1]!.data).toEqual(['setosa', 'virginica']);
      const binary = await triton.infer('iris', [new InferInput('features', [2, 4], 'FP32').setData(new Float32Array([...SETOSA, ...VIRGINICA]), true)], { version: '1' });
      expect(binary.result!.asStrings('label')).toEqual(['setosa', 'virginica']);
      for (const [i, p] of binary.result!.asNumbers('probabilities').entries()) expect(p).toBeCloseTo(nested.result!.asNumbers('probabilities')[i]!, 5);
    });

    it('a regressor gives prediction FP32 [N]; values outside the training range come back as a warning parameter', async () => {
      const res = await triton.infer('wine-quality', [new InferInput('features', [1, 11], 'FP64').setData(new Float64Array(WINE), false)], { outputs: [new InferRequestedOutput('prediction')] });
      expect(res.result!.output('prediction').shape).toEqual([1]);
      const native = await request(app.server).post('/v1/models/wine-quality/predict').send({ features: WINE });
      expect(res.result!.asNumbers('prediction')[0]).toBeCloseTo(native.body.prediction, 5);
      const odd = WINE.map((v, i) => (i === 10 ? 30 : v));
      const warned = await kserve.infer('wine-quality', [new InferInput('features', [1, 11], 'FP64').setData(new Float64Array(odd), false)]);
      expect(warned.status).toBe(200);
      expect((warned.body as { parameters: { warnings: string } }).parameters.warnings).toMatch(/row 0: alcohol 30 is above the training range/);
    });
  });

  describe('malformed requests: the protocol error shape and status, naming the problem', () => {
    const image = (datatype: string, shape: number[], data: unknown) => JSON.stringify({ inputs: [{ name: 'image', datatype, shape, data }] });
    const post = (path: string, body: Buffer | string, headers: Record<string, string> = {}) => triton.send('infer', 'POST', path, body, headers);

    it('wrong datatype, shape/data disagreement, unknown input or output, unknown model or version', async () => {
      const b64 = img.photo('cat').toString('base64');
      expectError(await post('/v2/models/cifar10/infer', image('FP32', [1, 32, 32, 3], new Array(3072).fill(0))), 400, /input 'image' has datatype FP32; send BYTES .* or UINT8/);
      expectError(await post('/v2/models/cifar10/infer', image('BYTES', [2], [b64])), 400, /input 'image' has shape \[2\] \(2 elements\) but its data holds 1/);
      expectError(await post('/v2/models/cifar10/infer', image('UINT8', [1, 32, 32], new Array(1024).fill(0))), 400, /shape must be \[N, H, W, 3\]/);
      expectError(await post('/v2/models/cifar10/infer', image('UINT8', [1, 2, 2, 3], [1, 2, 300, 4, 5, 6, 7, 8, 9, 10, 11, 12])), 400, /element 2 \(300\) is not an integer in 0\.\.255/);
      expectError(await post('/v2/models/cifar10/infer', image('COMPLEX64', [1], [b64])), 400, /unknown datatype 'COMPLEX64'/);
      expectError(await post('/v2/models/cifar10/infer', image('BYTES', [1], [42])), 400, /element 0 must be a string/);
      expectError(await post('/v2/models/cifar10/infer', JSON.stringify({ inputs: [{ name: 'pixels', datatype: 'BYTES', shape: [1], data: [b64] }] })), 400, /unknown input 'pixels'; model 'cifar10' takes one input, 'image'/);
      expectError(await post('/v2/models/cifar10/infer', JSON.stringify({ inputs: [{ name: 'image', datatype: 'BYTES', shape: [1], data: [b64] }], outputs: [{ name: 'logits' }] })), 400, /unknown output 'logits'; model 'cifar10' gives 'probabilities', 'label'/);
      expectError(await post('/v2/models/iris/infer', JSON.stringify({ inputs: [{ name: 'features', datatype: 'INT32', shape: [1, 4], data: [5, 3, 1, 0] }] })), 400, /send FP32 or FP64 \[N, 4\]/);
      expectError(await post('/v2/models/iris/infer', JSON.stringify({ inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 3], data: [5, 3, 1] }] })), 400, /must have shape \[N, 4\] \(sepal_length, sepal_width, petal_length, petal_width\), got \[1, 3\]/);
      expectError(await post('/v2/models/iris/infer', JSON.stringify({ inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 4], data: [[5, 3], [1, 0, 2]] }] })), 400, /holds more/);
      expectError(await post('/v2/models/resnet/infer', image('BYTES', [1], [b64])), 404, /no model named 'resnet'/);
      expectError(await post('/v2/models/cifar10/versions/9/infer', image('BYTES', [1], [b64])), 404, /version 9/);
      expectError(await post('/v2/models/cifar10/infer', JSON.stringify({ inputs: [] })), 400, /inputs/);
      expectError(await post('/v2/models/cifar10/infer', JSON.stringify({ inputs: [{ name: 'image', datatype: 'BYTES', shape: [1] }] })), 400, /input 'image' has no data/);
      expectError(await post('/v2/models/cifar10/infer', JSON.stringify({ inputs: [{ name: 'image', datatype: 'BYTES', shape: [-1], data: [b64] }] })), 400, /inputs\.0\.shape\.0/);
      expectError(await post('/v2/models/cifar10/infer', '{"inputs": ['), 400, /JSON/);
      // A shape that claims 2^28 values with one in the data: refused before any memory is taken for it.
      expectError(await post('/v2/models/iris/infer', JSON.stringify({ inputs: [{ name: 'features', datatype: 'FP64', shape: [1 << 26, 4], data: [1] }] })), 400, /holds 1$/);
      expectError(await post('/v2/models/iris/infer', JSON.stringify({ inputs: [{ name: 'features', datatype: 'FP64', shape: [1 << 27, 4], data: [1] }] })), 400, /more than 268435456 elements/);
    });

    it('bad images in a tensor name the element; too many images is 413', async () => {
      const b64 = img.photo('cat').toString('base64');
      expectError(await post('/v2/models/cifar10/infer', image('BYTES', [2], [b64, 'not base64!'])), 400, /input 'image' image 1: element 1 is not valid base64/);
      const truncated = img.photo('dog').subarray(0, 200).toString('base64');
      expectError(await post('/v2/models/cifar10/infer', image('BYTES', [2], [b64, truncated])), 400, /input 'image' image 1: the jpeg image could not be decoded|input 'image' image 1: .*corrupt/);
      expectError(await post('/v2/models/cifar10/infer', image('BYTES', [1], [Buffer.from('%PDF-1.4 hello').toString('base64')])), 400, /image 0: the content is not a recognised image format/);
      expectError(await post('/v2/models/cifar10/infer', image('BYTES', [9], new Array(9).fill(b64))), 413, /at most 8 per request \(MAX_BATCH_FILES\)/);
      expectError(await post('/v2/models/cifar10/infer', image('BYTES', [0], [])), 400, /holds no images/);
    });

    it('bad binary sizes: disagreeing with the body or the shape, past the end, negative; never a hang', async () => {
      const photo = img.photo('cat');
      const bytes = serializeBytes([photo]);
      const header = (size: unknown, extra: object = {}) => Buffer.from(JSON.stringify({ inputs: [{ name: 'image', datatype: 'BYTES', shape: [1], parameters: { binary_data_size: size }, ...extra }] }));
      const send = (json: Buffer, tail: Buffer, length: string = String(json.length)) => post('/v2/models/cifar10/infer', Buffer.concat([json, tail]), { 'inference-header-content-length': length });
      expect((await send(header(bytes.length), bytes)).status).toBe(200);
      expectError(await send(header(bytes.length + 10), bytes), 400, /binary_data_size \d+ runs past the end of the body/);
      expectError(await send(header(bytes.length - 10), bytes), 400, /BYTES element 0 declares \d+ bytes, past the end|no input's binary_data_size claims/);
      expectError(await send(header(bytes.length), Buffer.concat([bytes, Buffer.from('extra')])), 400, /5 bytes of binary data that no input's binary_data_size claims/);
      expectError(await send(header(-4), bytes), 400, /binary_data_size must be a non-negative integer/);
      expectError(await send(header('12'), bytes), 400, /binary_data_size must be a non-negative integer/);
      expectError(await send(header(bytes.length, { data: ['x'] }), bytes), 400, /both data and binary_data_size/);
      const json = header(bytes.length);
      expectError(await send(json, bytes, String(json.length + bytes.length + 1)), 400, /Inference-Header-Content-Length is \d+ bytes, past the end of the \d+-byte body/);
      expectError(await send(json, bytes, '-1'), 400, /Inference-Header-Content-Length must be a non-negative integer/);
      expectError(await send(json, bytes, String(json.length - 3)), 400, /not valid JSON/);
      // A BYTES length prefix cut short, and a numeric tensor whose size disagrees with its shape.
      expectError(await send(header(2), Buffer.from([1, 0])), 400, /truncated 4-byte length prefix/);
      const pixelsHeader = Buffer.from(JSON.stringify({ inputs: [{ name: 'image', datatype: 'UINT8', shape: [1, 32, 32, 3], parameters: { binary_data_size: 3000 } }] }));
      expectError(await send(pixelsHeader, Buffer.alloc(3000)), 400, /binary_data_size is 3000 bytes, but shape \[1, 32, 32, 3\] of UINT8 needs 3072/);
      // binary_data_size without the header: no binary part to read it from.
      expectError(await post('/v2/models/cifar10/infer', header(bytes.length).toString()), 400, /runs past the end of the body \(0 bytes/);
    });

    it('bodies past the limit are 413; any Content-Type is read as JSON unless Inference-Header-Content-Length says binary (as Triton)', async () => {
      const huge = JSON.stringify({ inputs: [{ name: 'image', datatype: 'BYTES', shape: [1], data: ['A'.repeat(512 * 1024)] }] });
      expectError(await post('/v2/models/cifar10/infer', huge, { 'content-type': 'application/json' }), 413, /MAX_BATCH_UPLOAD_BYTES/);
      expectError(await post('/v2/models/cifar10/infer', 'hello', { 'content-type': 'text/plain' }), 400, /JSON/);
      // curl -d sends application/x-www-form-urlencoded.
      const form = await post('/v2/models/iris/infer', JSON.stringify({ inputs: [{ name: 'features', datatype: 'FP64', shape: [1, 4], data: SETOSA }] }), { 'content-type': 'application/x-www-form-urlencoded' });
      expect(form.status).toBe(200);
    });
  });

  it('every response the tests received conformed, for every operation', () => {
    const ops: Operation[] = ['server_metadata', 'server_live', 'server_ready', 'model_metadata', 'model_ready', 'infer'];
    for (const op of ops) expect(validated.get(op)?.has(200), op).toBe(true);
    expect([...validated.get('infer')!].sort()).toEqual([200, 400, 404, 413]);
  });
});

describe('Open Inference Protocol: API keys, rate limits', () => {
  const KEY = 'key-a-0123456789abcdef';
  let app: FastifyInstance;
  let client: V2Client;
  beforeAll(async () => {
    app = await buildApp({ API_KEYS: KEY, RATE_LIMIT_MAX: '6', RATE_LIMIT_WINDOW: '1 minute' });
    client = new V2Client(await listen(app));
  });
  afterAll(async () => {
    await app.close();
  });

  it('infer needs a key (401 with WWW-Authenticate), metadata and probes stay open, and the key buys its own rate-limit bucket', async () => {
    const input = [new InferInput('image', [1], 'BYTES').setData([img.photo('cat')], true)];
    const refused = await client.infer('cifar10', input);
    expectError(refused, 401, /an API key is required/);
    expect(refused.headers.get('www-authenticate')).toBe('Bearer realm="ml-inference-api"');
    const keyed = new V2Client(client.base, 'kserve', { authorization: `Bearer ${KEY}` });
    expect((await keyed.infer('cifar10', input)).status).toBe(200);
    expect((await client.modelMetadata('cifar10')).status).toBe(200);
    const statuses: number[] = [];
    for (let i = 0; i < 7; i++) statuses.push((await keyed.infer('cifar10', input)).status);
    expect(statuses.at(-1)).toBe(429);
    const limited = await keyed.infer('cifar10', input);
    expectError(limited, 429, /more than 6 requests/);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    // Probes are never limited.
    for (let i = 0; i < 8; i++) expect((await client.isServerReady()).status).toBe(200);
  });
});

describe('Open Inference Protocol: the model repository extension', () => {
  let repo: TempRepository;
  let app: FastifyInstance;
  let admin: V2Client;
  let anonymous: V2Client;
  beforeAll(async () => {
    repo = new TempRepository();
    repo.publish('cifar10', '1');
    repo.publish('cifar10', '2');
    repo.config('cifar10', { version_policy: { all: {} } });
    repo.publish('broken', '1', (files) => files.write('model.onnx', 'not a model'));
    app = await buildApp({ MODEL_REPOSITORY: repo.root, ADMIN_API_KEYS: ADMIN_KEY, INFERENCE_RUNTIME: 'onnx' });
    const base = await listen(app);
    admin = new V2Client(base, 'triton', { 'x-api-key': ADMIN_KEY });
    anonymous = new V2Client(base);
  });
  afterAll(async () => {
    await app.close();
    repo.dispose();
  });

  it('index lists every version with its state and reason; ready filters', async () => {
    const index = await admin.repositoryIndex();
    expect(index.status).toBe(200);
    expect(index.body).toEqual([
      { name: 'broken', version: '1', state: 'UNAVAILABLE', reason: expect.stringMatching(/onnx|protobuf|model/i) },
      { name: 'cifar10', version: '2', state: 'READY' },
      { name: 'cifar10', version: '1', state: 'READY' },
    ]);
    expect((await admin.repositoryIndex(true)).body).toEqual([
      { name: 'cifar10', version: '2', state: 'READY' },
      { name: 'cifar10', version: '1', state: 'READY' },
    ]);
    expect(((await admin.repositoryIndex(false)).body as unknown[]).length).toBe(1);
  });

  it('server readiness counts every model that is not unloaded: a failed one keeps it 503 until it is unloaded', async () => {
    expectError(await admin.isServerReady(), 503, /no version of 'broken' is serving/);
    expect((await admin.unloadModel('broken')).body).toEqual({ name: 'broken', unload: true });
    expect((await admin.isServerReady()).body).toEqual({ ready: true });
    expect((await admin.repositoryIndex()).body).toContainEqual({ name: 'broken', state: 'UNAVAILABLE', reason: 'unloaded' });
    expectError(await admin.loadModel('broken'), 400, /failed to load 'broken': version 1 failed/);
  });

  it('unload and load a serving model: ready and infer follow; versions are addressable', async () => {
    const input = [new InferInput('image', [1], 'BYTES').setData([img.photo('ship')], true)];
    const v1 = await anonymous.infer('cifar10', input, { version: '1' });
    expect(v1.status, JSON.stringify(v1.body)).toBe(200);
    expect((await anonymous.modelMetadata('cifar10')).body).toMatchObject({ versions: ['2', '1'] });
    expect((await admin.unloadModel('cifar10')).status).toBe(200);
    expectError(await anonymous.isModelReady('cifar10'), 503, /unloaded/);
    expectError(await anonymous.infer('cifar10', input), 503, /unloaded/);
    expect((await admin.repositoryIndex()).body).toContainEqual({ name: 'cifar10', state: 'UNAVAILABLE', reason: 'unloaded' });
    expect((await admin.loadModel('cifar10')).body).toEqual({ name: 'cifar10', load: true });
    expect((await anonymous.isModelReady('cifar10', '2')).body).toEqual({ name: 'cifar10', ready: true });
    expect((await anonymous.infer('cifar10', input)).status).toBe(200);
  });

  it('admin keys guard the extension; unknown models and load parameters are refused', async () => {
    expectError(await anonymous.repositoryIndex(), 401, /admin API key is required/);
    expectError(await new V2Client(anonymous.base, 'kserve', { authorization: 'Bearer wrong-key-0123456789' }).unloadModel('cifar10'), 401, /not valid/);
    expectError(await admin.loadModel('resnet'), 404, /resnet/);
    expectError(await admin.loadModel('cifar10', { config: '{"backend":"onnxruntime"}' }), 400, /load parameters are not supported \(got 'config'\)/);
    expectError(await admin.unloadModel('../etc'), 400, /name/);
    for (const op of ['repository_index', 'repository_load', 'repository_unload'] as const) expect(validated.get(op)?.has(200), op).toBe(true);
  });
});

describe('Open Inference Protocol: the repository extension without ADMIN_API_KEYS', () => {
  it('answers 403 {"error"}', async () => {
    const app = await buildApp();
    try {
      const client = new V2Client(await listen(app));
      expectError(await client.repositoryIndex(), 403, /ADMIN_API_KEYS/);
      checkConformance('repository_index', 403, { error: 'x' });
    } finally {
      await app.close();
    }
  });
});
