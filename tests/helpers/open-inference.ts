/**
 * An Open Inference Protocol (KServe V2) client for the tests, built the way Triton's
 * (`tritonclient.http`) and KServe's (`InferenceRESTClient`) Python HTTP clients build their
 * requests, and a conformance check that validates every response it receives against the
 * schemas of `specs/open-inference-protocol/open_inference_rest.yaml`.
 *
 *   triton style  no Content-Type at all; binary bodies carry Inference-Header-Content-Length
 *                 (tritonclient posts raw bytes with only that header); with no outputs named,
 *                 `binary_data_output: true` (as tritonclient does)
 *   kserve style  Content-Type: application/json, or application/octet-stream with
 *                 Inference-Header-Content-Length for binary bodies
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv, type ValidateFunction } from 'ajv';
import { parse } from 'yaml';
import { ROOT } from './app.js';

type Json = Record<string, unknown>;

const SPEC = join(ROOT, 'specs', 'open-inference-protocol', 'open_inference_rest.yaml');

/** The response objects, by the protocol's schema names (plus those the yaml does not define). */
function conformance(): Record<string, ValidateFunction> {
  const doc = parse(readFileSync(SPEC, 'utf8')) as { components: { schemas: Record<string, Json> } };
  const ajv = new Ajv({ strict: false, allErrors: true });
  ajv.addSchema({ $id: 'oip', components: doc.components });
  // The binary tensor data extension: an output in the binary part has no `data` but
  // `parameters.binary_data_size` (Triton's extension_binary_data.md); everything else as specified.
  const binary = structuredClone(doc.components);
  const output = binary.schemas.response_output as Json & { required: string[] };
  output.required = output.required.filter((r) => r !== 'data');
  output.anyOf = [
    { required: ['data'] },
    { required: ['parameters'], properties: { parameters: { type: 'object', required: ['binary_data_size'], properties: { binary_data_size: { type: 'integer', minimum: 0 } } } } },
  ];
  ajv.addSchema({ $id: 'oip-binary', components: binary });
  const ref = (id: string, name: string): ValidateFunction => ajv.compile({ $ref: `${id}#/components/schemas/${name}` });
  return {
    metadata_server_response: ref('oip', 'metadata_server_response'),
    metadata_server_error_response: ref('oip', 'metadata_server_error_response'),
    metadata_model_response: ref('oip', 'metadata_model_response'),
    metadata_model_error_response: ref('oip', 'metadata_model_error_response'),
    inference_response: ref('oip', 'inference_response'),
    inference_response_binary: ref('oip-binary', 'inference_response'),
    // The yaml's error object leaves `error` optional; the markdown makes it the whole object.
    inference_error_response: ajv.compile({ allOf: [{ $ref: 'oip#/components/schemas/inference_error_response' }, { required: ['error'] }] }),
    // Health objects are in inference_rest.md only ($live_server_response, $ready_model_response).
    // Its $ready_server_response repeats "live"; Triton and KServe answer {"ready": …}.
    live_server_response: ajv.compile({ type: 'object', required: ['live'], properties: { live: { type: 'boolean' } } }),
    ready_server_response: ajv.compile({ type: 'object', required: ['ready'], properties: { ready: { type: 'boolean' } } }),
    ready_model_response: ajv.compile({ type: 'object', required: ['name', 'ready'], properties: { name: { type: 'string' }, ready: { type: 'boolean' } } }),
    // Triton's model repository extension (extension_model_repository.md).
    repository_index_response: ajv.compile({
      type: 'array',
      items: { type: 'object', required: ['name'], properties: { name: { type: 'string' }, version: { type: 'string' }, state: { type: 'string' }, reason: { type: 'string' } } },
    }),
    repository_action_response: ajv.compile({ type: 'object' }),
  };
}

const SCHEMAS = conformance();

export type Operation = 'server_metadata' | 'server_live' | 'server_ready' | 'model_metadata' | 'model_ready' | 'infer' | 'repository_index' | 'repository_load' | 'repository_unload';

const SUCCESS: Record<Operation, string> = {
  server_metadata: 'metadata_server_response',
  server_live: 'live_server_response',
  server_ready: 'ready_server_response',
  model_metadata: 'metadata_model_response',
  model_ready: 'ready_model_response',
  infer: 'inference_response',
  repository_index: 'repository_index_response',
  repository_load: 'repository_action_response',
  repository_unload: 'repository_action_response',
};

const FAILURE: Record<Operation, string> = {
  server_metadata: 'metadata_server_error_response',
  server_live: 'metadata_server_error_response',
  server_ready: 'metadata_server_error_response',
  model_metadata: 'metadata_model_error_response',
  model_ready: 'metadata_model_error_response',
  infer: 'inference_error_response',
  repository_index: 'metadata_server_error_response',
  repository_load: 'metadata_server_error_response',
  repository_unload: 'metadata_server_error_response',
};

/** Every response validated so far: operation → statuses seen (for the coverage check). */
export const validated = new Map<Operation, Set<number>>();

/** Throw unless `body` is what the protocol says `operation` answers with `status`. */
export function checkConformance(operation: Operation, status: number, body: unknown, binary = false): void {
  const name = status < 300 ? (binary ? 'inference_response_binary' : SUCCESS[operation]) : FAILURE[operation];
  const validate = SCHEMAS[name]!;
  if (!validate(body)) {
    throw new Error(`${operation} ${status}: the body does not conform to ${name}: ${JSON.stringify(validate.errors)}\n${JSON.stringify(body).slice(0, 500)}`);
  }
  if (!validated.has(operation)) validated.set(operation, new Set());
  validated.get(operation)!.add(status);
}

type Typed = Uint8Array | Int32Array | Float32Array | Float64Array;

/** One input tensor, as tritonclient's InferInput: data as JSON or as binary. */
export class InferInput {
  parameters: Json = {};
  data: unknown;
  binary: Buffer | undefined;

  constructor(
    readonly name: string,
    readonly shape: number[],
    readonly datatype: string,
  ) {}

  /** Numbers (typed array) or BYTES elements; `binary` as set_data_from_numpy(binary_data=…). */
  setData(values: Typed | readonly (string | Uint8Array)[], binary: boolean): this {
    if (binary) {
      this.binary = ArrayBuffer.isView(values) ? Buffer.from(values.buffer, values.byteOffset, values.byteLength) : serializeBytes(values as readonly (string | Uint8Array)[]);
      this.parameters = { ...this.parameters, binary_data_size: this.binary.length };
      this.data = undefined;
    } else {
      this.data = ArrayBuffer.isView(values) ? Array.from(values as ArrayLike<number>) : (values as readonly (string | Uint8Array)[]).map((v) => (typeof v === 'string' ? v : Buffer.from(v).toString('base64')));
      this.binary = undefined;
      const { binary_data_size: _drop, ...rest } = this.parameters;
      this.parameters = rest;
    }
    return this;
  }

  tensor(): Json {
    return { name: this.name, shape: this.shape, datatype: this.datatype, ...(Object.keys(this.parameters).length > 0 && { parameters: this.parameters }), ...(this.data !== undefined && { data: this.data }) };
  }
}

/** BYTES elements with a 4-byte little-endian length prefix each. */
/** BYTES elements as the binary extension and gRPC's raw contents carry them: each a 4-byte little-endian length, then its bytes (UTF-8 here). */
export function deserializeBytes(raw: Buffer): string[] {
  const out: string[] = [];
  for (let at = 0; at < raw.length; ) {
    const n = raw.readUInt32LE(at);
    out.push(raw.subarray(at + 4, at + 4 + n).toString('utf8'));
    at += 4 + n;
  }
  return out;
}

export function serializeBytes(elements: readonly (string | Uint8Array)[]): Buffer {
  return Buffer.concat(
    elements.flatMap((e) => {
      const bytes = typeof e === 'string' ? Buffer.from(e, 'utf8') : Buffer.from(e);
      const length = Buffer.alloc(4);
      length.writeUInt32LE(bytes.length);
      return [length, bytes];
    }),
  );
}

export class InferRequestedOutput {
  constructor(
    readonly name: string,
    readonly binary = false,
  ) {}

  tensor(): Json {
    return { name: this.name, ...(this.binary && { parameters: { binary_data: true } }) };
  }
}

/** A decoded inference response: JSON outputs as they are, binary outputs read back. */
export class InferResult {
  constructor(
    readonly response: Json & { outputs: (Json & { name: string; datatype: string; shape: number[]; data?: unknown[]; parameters?: Json })[] },
    private readonly binary: Buffer,
  ) {}

  output(name: string): InferResult['response']['outputs'][number] {
    const o = this.response.outputs.find((x) => x.name === name);
    if (!o) throw new Error(`no output ${name}`);
    return o;
  }

  private blob(name: string): Buffer | undefined {
    let offset = 0;
    for (const o of this.response.outputs) {
      const size = o.parameters?.binary_data_size as number | undefined;
      if (size === undefined) continue;
      if (o.name === name) return this.binary.subarray(offset, offset + size);
      offset += size;
    }
    return undefined;
  }

  asNumbers(name: string): number[] {
    const blob = this.blob(name);
    if (!blob) return this.output(name).data as number[];
    const copy = new Uint8Array(blob);
    return Array.from(new Float32Array(copy.buffer, 0, copy.length / 4));
  }

  asStrings(name: string): string[] {
    const blob = this.blob(name);
    if (!blob) return this.output(name).data as string[];
    return deserializeBytes(blob);
  }
}

export interface Reply {
  status: number;
  headers: Headers;
  body: unknown;
  /** The binary part of a binary response. */
  binary: Buffer;
}

export interface InferOptions {
  version?: string;
  outputs?: InferRequestedOutput[];
  id?: string;
  parameters?: Json;
}

export class V2Client {
  constructor(
    readonly base: string,
    readonly style: 'triton' | 'kserve' = 'triton',
    readonly headers: Record<string, string> = {},
  ) {}

  /** Send a request and check the answer's conformance before returning it. */
  async send(operation: Operation, method: 'GET' | 'POST', path: string, body?: Buffer | string, headers: Record<string, string> = {}): Promise<Reply> {
    // Bytes, not a string: fetch would add Content-Type: text/plain to a string body, which
    // neither Python client sends.
    const payload = body === undefined ? undefined : typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
    const res = await fetch(`${this.base}${path}`, { method, headers: { ...this.headers, ...headers }, ...(payload !== undefined && { body: payload }) });
    const raw = Buffer.from(await res.arrayBuffer());
    const headerLength = res.headers.get('inference-header-content-length');
    const jsonPart = headerLength === null ? raw : raw.subarray(0, Number(headerLength));
    const parsed: unknown = JSON.parse(jsonPart.toString('utf8'));
    checkConformance(operation, res.status, parsed, headerLength !== null);
    if (headerLength !== null && res.headers.get('content-type') !== 'application/octet-stream') throw new Error('a binary response must be application/octet-stream');
    if (headerLength === null && !/^application\/json/.test(res.headers.get('content-type') ?? '')) throw new Error(`a JSON response must be application/json, got ${res.headers.get('content-type')}`);
    return { status: res.status, headers: res.headers, body: parsed, binary: headerLength === null ? Buffer.alloc(0) : raw.subarray(Number(headerLength)) };
  }

  private get json(): Record<string, string> {
    return this.style === 'kserve' ? { 'content-type': 'application/json' } : {};
  }

  serverMetadata(): Promise<Reply> {
    return this.send('server_metadata', 'GET', '/v2');
  }

  isServerLive(): Promise<Reply> {
    return this.send('server_live', 'GET', '/v2/health/live');
  }

  isServerReady(): Promise<Reply> {
    return this.send('server_ready', 'GET', '/v2/health/ready');
  }

  private modelPath(name: string, version?: string): string {
    return `/v2/models/${encodeURIComponent(name)}${version === undefined ? '' : `/versions/${encodeURIComponent(version)}`}`;
  }

  modelMetadata(name: string, version?: string): Promise<Reply> {
    return this.send('model_metadata', 'GET', this.modelPath(name, version));
  }

  isModelReady(name: string, version?: string): Promise<Reply> {
    return this.send('model_ready', 'GET', `${this.modelPath(name, version)}/ready`);
  }

  /** The request body as the clients build it: JSON, then every binary input's bytes in input order. */
  static body(inputs: readonly InferInput[], opts: InferOptions = {}): { body: Buffer; headerLength: number | undefined } {
    const request: Json = {
      ...(opts.id !== undefined && { id: opts.id }),
      inputs: inputs.map((i) => i.tensor()),
      ...(opts.outputs && { outputs: opts.outputs.map((o) => o.tensor()) }),
      ...(opts.parameters && { parameters: opts.parameters }),
    };
    const json = Buffer.from(JSON.stringify(request), 'utf8');
    const blobs = inputs.flatMap((i) => (i.binary ? [i.binary] : []));
    return blobs.length === 0 ? { body: json, headerLength: undefined } : { body: Buffer.concat([json, ...blobs]), headerLength: json.length };
  }

  async infer(name: string, inputs: readonly InferInput[], opts: InferOptions = {}): Promise<Reply & { result?: InferResult }> {
    // tritonclient: with no outputs named, every output comes back as binary data.
    const defaults = this.style === 'triton' && !opts.outputs ? { parameters: { binary_data_output: true, ...opts.parameters } } : {};
    const { body, headerLength } = V2Client.body(inputs, { ...opts, ...defaults });
    const headers: Record<string, string> =
      headerLength === undefined ? this.json : { 'inference-header-content-length': String(headerLength), ...(this.style === 'kserve' && { 'content-type': 'application/octet-stream' }) };
    const reply = await this.send('infer', 'POST', `${this.modelPath(name, opts.version)}/infer`, body, headers);
    return reply.status === 200 ? { ...reply, result: new InferResult(reply.body as InferResult['response'], reply.binary) } : reply;
  }

  repositoryIndex(ready?: boolean): Promise<Reply> {
    return this.send('repository_index', 'POST', '/v2/repository/index', ready === undefined ? undefined : JSON.stringify({ ready }), ready === undefined ? {} : this.json);
  }

  loadModel(name: string, parameters?: Json): Promise<Reply> {
    // tritonclient posts "{}" (or its parameters) with no Content-Type.
    return this.send('repository_load', 'POST', `/v2/repository/models/${encodeURIComponent(name)}/load`, JSON.stringify(parameters ? { parameters } : {}), this.json);
  }

  unloadModel(name: string): Promise<Reply> {
    return this.send('repository_unload', 'POST', `/v2/repository/models/${encodeURIComponent(name)}/unload`, JSON.stringify({}), this.json);
  }
}
