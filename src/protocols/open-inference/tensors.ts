/**
 * Tensors of the Open Inference Protocol (KServe V2), Fastify-free: the inference request
 * (JSON, or JSON plus binary tensor data as Triton's binary tensor data extension defines
 * it), checked against itself, and the response, in JSON or with binary outputs.
 *
 * Every problem is a TensorError (an invalid-input serving error) naming the input or output
 * concerned.
 */
import { endianness } from 'node:os';
import { z } from 'zod';
import { ServingError } from '../../serving/errors.js';

/** A request the protocol's rules refuse (shape, datatype, data, binary sizes). */
export class TensorError extends ServingError {
  constructor(message: string) {
    super('invalid-input', 'invalid-tensor', message);
    this.name = 'TensorError';
  }
}

/** Element sizes in bytes; BYTES elements are variable (a 4-byte length prefix each in binary). */
const DATATYPE_BYTES = {
  BOOL: 1,
  UINT8: 1,
  UINT16: 2,
  UINT32: 4,
  UINT64: 8,
  INT8: 1,
  INT16: 2,
  INT32: 4,
  INT64: 8,
  FP16: 2,
  FP32: 4,
  FP64: 8,
} as const;

export type NumericDatatype = keyof typeof DATATYPE_BYTES;
export type Datatype = NumericDatatype | 'BYTES';
const DATATYPES: readonly Datatype[] = [...(Object.keys(DATATYPE_BYTES) as NumericDatatype[]), 'BYTES'];

/** Limits on what a request may declare, before any data is looked at. */
export const TENSOR_LIMITS = { maxDims: 8, maxElements: 1 << 28, maxInputs: 16, maxNameLength: 256 };

const parameterValue = z.union([z.string(), z.number(), z.boolean(), z.null()]);
const parametersSchema = z.record(z.string(), parameterValue);

const requestInputSchema = z.object({
  name: z.string().min(1).max(TENSOR_LIMITS.maxNameLength),
  shape: z.array(z.number().int().nonnegative()).max(TENSOR_LIMITS.maxDims),
  datatype: z.string().max(32),
  parameters: parametersSchema.optional(),
  data: z.unknown().optional(),
});

const requestOutputSchema = z.object({
  name: z.string().min(1).max(TENSOR_LIMITS.maxNameLength),
  parameters: parametersSchema.optional(),
});

/** $inference_request, with the binary extension's parameters. */
export const inferenceRequestSchema = z.object({
  id: z.string().max(1024).optional(),
  parameters: parametersSchema.optional(),
  inputs: z.array(requestInputSchema).min(1).max(TENSOR_LIMITS.maxInputs),
  outputs: z.array(requestOutputSchema).max(TENSOR_LIMITS.maxInputs).optional(),
});

export type InferenceRequestJson = z.infer<typeof inferenceRequestSchema>;

type NumericArray = Uint8Array | Int8Array | Uint16Array | Int16Array | Uint32Array | Int32Array | Float32Array | Float64Array;

/** One input tensor, its data checked against its shape and datatype. */
export type InputTensor =
  | { name: string; shape: number[]; datatype: 'BYTES'; /** JSON strings, or binary elements. */ elements: (string | Uint8Array)[] }
  | { name: string; shape: number[]; datatype: NumericDatatype; values: NumericArray };

/** A tensor in model metadata: -1 for a dimension of any size (the batch). */
export interface TensorMetadata {
  name: string;
  datatype: Datatype;
  shape: number[];
}

/** One output tensor the server computed. */
export type OutputTensor =
  | { name: string; shape: number[]; datatype: 'BYTES'; elements: string[] }
  | { name: string; shape: number[]; datatype: 'FP32'; values: Float32Array };

export interface ParsedRequest {
  id?: string;
  parameters: Record<string, unknown>;
  inputs: InputTensor[];
  /** The outputs asked for (all when the request names none), each as JSON or binary. */
  outputs: { name: string; binary: boolean }[] | undefined;
  /** Whether outputs not named in `outputs` come back as binary (request `binary_data_output`). */
  binaryByDefault: boolean;
}

/** Elements a shape holds; refused past TENSOR_LIMITS.maxElements. */
function elementCount(shape: readonly number[], what: string): number {
  let n = 1;
  for (const d of shape) {
    n *= d;
    if (n > TENSOR_LIMITS.maxElements) throw new TensorError(`${what} has shape [${shape.join(', ')}]: more than ${TENSOR_LIMITS.maxElements} elements`);
  }
  return n;
}

const INTEGER_RANGE: Partial<Record<NumericDatatype, [number, number]>> = {
  UINT8: [0, 255],
  UINT16: [0, 65535],
  UINT32: [0, 2 ** 32 - 1],
  UINT64: [0, Number.MAX_SAFE_INTEGER],
  INT8: [-128, 127],
  INT16: [-32768, 32767],
  INT32: [-(2 ** 31), 2 ** 31 - 1],
  INT64: [Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER],
};

function allocate(datatype: NumericDatatype, n: number): NumericArray {
  switch (datatype) {
    case 'BOOL':
    case 'UINT8':
      return new Uint8Array(n);
    case 'INT8':
      return new Int8Array(n);
    case 'UINT16':
      return new Uint16Array(n);
    case 'INT16':
      return new Int16Array(n);
    case 'UINT32':
      return new Uint32Array(n);
    case 'INT32':
      return new Int32Array(n);
    case 'FP32':
      return new Float32Array(n);
    default:
      // FP64, and the 64-bit integers as exact numbers (within the safe range).
      return new Float64Array(n);
  }
}

function describeValue(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'string') return `a string`;
  return typeof v === 'object' ? 'an object' : String(v);
}

/**
 * Flatten row-major JSON data (flat or nested) into `visit(element, index)`, stopping at
 * `expected + 1` elements; returns the count.
 */
function flatten(data: unknown, expected: number, maxDepth: number, what: string, visit: (v: unknown, i: number) => void): number {
  let count = 0;
  const walk = (node: unknown, depth: number): void => {
    if (!Array.isArray(node)) {
      if (count < expected) visit(node, count);
      count++;
      return;
    }
    if (depth > maxDepth) throw new TensorError(`${what}: data is nested deeper than its shape`);
    for (const child of node) {
      walk(child, depth + 1);
      if (count > expected) return;
    }
  };
  if (!Array.isArray(data)) throw new TensorError(`${what}: data must be an array`);
  walk(data, 0);
  return count;
}

/** An input from row-major data (flat or nested), checked against its shape and datatype. */
export function fromJson(name: string, shape: number[], datatype: Datatype, data: unknown): InputTensor {
  const what = `input '${name}'`;
  const n = elementCount(shape, what);
  const mismatch = (count: number): TensorError =>
    new TensorError(`${what} has shape [${shape.join(', ')}] (${n} elements) but its data holds ${count > n ? 'more' : count}`);
  if (datatype === 'BYTES') {
    const elements: string[] = [];
    const count = flatten(data, n, shape.length, what, (v, i) => {
      if (typeof v !== 'string') throw new TensorError(`${what} is BYTES: element ${i} must be a string, got ${describeValue(v)}`);
      elements.push(v);
    });
    if (count !== n) throw mismatch(count);
    return { name, shape, datatype, elements };
  }
  if (datatype === 'FP16') throw new TensorError(`${what}: FP16 cannot be written as JSON numbers; send it as binary data`);
  // Collected first, then copied: the shape alone must not decide how much memory is taken.
  const collected: number[] = [];
  const range = INTEGER_RANGE[datatype];
  const count = flatten(data, n, shape.length, what, (v, i) => {
    if (datatype === 'BOOL') {
      if (typeof v !== 'boolean') throw new TensorError(`${what} is BOOL: element ${i} must be true or false, got ${describeValue(v)}`);
      collected.push(v ? 1 : 0);
      return;
    }
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new TensorError(`${what} is ${datatype}: element ${i} must be a number, got ${describeValue(v)}`);
    if (range && (!Number.isInteger(v) || v < range[0] || v > range[1])) {
      throw new TensorError(`${what} is ${datatype}: element ${i} (${v}) is not an integer in ${range[0]}..${range[1]}`);
    }
    collected.push(v);
  });
  if (count !== n) throw mismatch(count);
  const values = allocate(datatype, n);
  values.set(collected);
  return { name, shape, datatype, values };
}

const LITTLE_ENDIAN = endianness() === 'LE';

/** An input from its raw bytes: little-endian row-major values, or 4-byte-length-prefixed BYTES elements. */
export function fromBinary(name: string, shape: number[], datatype: Datatype, bytes: Uint8Array): InputTensor {
  const what = `input '${name}'`;
  const n = elementCount(shape, what);
  if (datatype === 'BYTES') {
    const elements: Uint8Array[] = [];
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    let at = 0;
    while (at < bytes.length) {
      if (elements.length === n) throw new TensorError(`${what} has shape [${shape.join(', ')}] (${n} elements) but its binary data holds more`);
      if (at + 4 > bytes.length) throw new TensorError(`${what}: BYTES element ${elements.length} has a truncated 4-byte length prefix`);
      const length = view.getUint32(at, true);
      at += 4;
      if (at + length > bytes.length) throw new TensorError(`${what}: BYTES element ${elements.length} declares ${length} bytes, past the end of its binary data`);
      elements.push(bytes.subarray(at, at + length));
      at += length;
    }
    if (elements.length !== n) throw new TensorError(`${what} has shape [${shape.join(', ')}] (${n} elements) but its binary data holds ${elements.length}`);
    return { name, shape, datatype, elements };
  }
  const size = DATATYPE_BYTES[datatype];
  if (bytes.length !== n * size) {
    throw new TensorError(`${what}: binary_data_size is ${bytes.length} bytes, but shape [${shape.join(', ')}] of ${datatype} needs ${n * size}`);
  }
  if (datatype === 'FP16') throw new TensorError(`${what}: FP16 is not supported by this server`);
  const values = allocate(datatype, n);
  if (datatype === 'UINT64' || datatype === 'INT64') {
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    for (let i = 0; i < n; i++) {
      const v = datatype === 'UINT64' ? view.getBigUint64(i * 8, true) : view.getBigInt64(i * 8, true);
      if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < BigInt(Number.MIN_SAFE_INTEGER)) throw new TensorError(`${what}: element ${i} is outside the exactly representable integers`);
      values[i] = Number(v);
    }
  } else if (size === 1 || LITTLE_ENDIAN) {
    // A copy: the body's buffer may not be aligned for the element size.
    new Uint8Array(values.buffer).set(bytes);
  } else {
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const read = { 2: datatype === 'INT16' ? view.getInt16 : view.getUint16, 4: datatype === 'FP32' ? view.getFloat32 : datatype === 'INT32' ? view.getInt32 : view.getUint32, 8: view.getFloat64 }[size as 2 | 4 | 8];
    for (let i = 0; i < n; i++) values[i] = read.call(view, i * size, true);
  }
  return { name, shape, datatype, values };
}

export function checkDatatype(name: string, datatype: string): Datatype {
  if (!(DATATYPES as readonly string[]).includes(datatype)) throw new TensorError(`input '${name}': unknown datatype '${datatype.slice(0, 32)}'; one of ${DATATYPES.join(', ')}`);
  return datatype as Datatype;
}

function binaryParameter(value: unknown, what: string): boolean {
  if (value === undefined) return false;
  if (typeof value !== 'boolean') throw new TensorError(`${what} must be true or false`);
  return value;
}

/** The JSON part of a request: its schema, with every problem named. */
function parseHeader(raw: unknown): InferenceRequestJson {
  const parsed = inferenceRequestSchema.safeParse(raw);
  if (!parsed.success) {
    const first = parsed.error.issues[0]!;
    const where = first.path.length > 0 ? first.path.join('.') : 'the request';
    throw new TensorError(`invalid inference request: ${where}: ${first.message}`);
  }
  return parsed.data;
}

/**
 * An inference request from its HTTP body: a parsed JSON object, or (with the
 * Inference-Header-Content-Length header) the bytes of a JSON header followed by the inputs'
 * binary data, in input order.
 */
export function parseInferenceRequest(body: unknown, headerLength: string | undefined): ParsedRequest {
  let json: unknown = body;
  let binary: Uint8Array = new Uint8Array(0);
  if (headerLength !== undefined || Buffer.isBuffer(body)) {
    if (!Buffer.isBuffer(body)) throw new TensorError('a request with Inference-Header-Content-Length must be sent as application/octet-stream');
    const length = headerLength === undefined ? body.length : /^\d{1,15}$/.test(headerLength.trim()) ? Number(headerLength.trim()) : Number.NaN;
    if (!Number.isSafeInteger(length)) throw new TensorError(`Inference-Header-Content-Length must be a non-negative integer, got '${String(headerLength).slice(0, 32)}'`);
    if (length > body.length) throw new TensorError(`Inference-Header-Content-Length is ${length} bytes, past the end of the ${body.length}-byte body`);
    try {
      json = JSON.parse(body.subarray(0, length).toString('utf8'));
    } catch (err) {
      throw new TensorError(`the inference header (the first ${length} bytes) is not valid JSON: ${err instanceof Error ? err.message : String(err)}`);
    }
    binary = body.subarray(length);
  }
  const request = parseHeader(json);
  const names = new Set<string>();
  let offset = 0;
  const inputs = request.inputs.map((input): InputTensor => {
    if (names.has(input.name)) throw new TensorError(`input '${input.name}' is given twice`);
    names.add(input.name);
    const datatype = checkDatatype(input.name, input.datatype);
    const size = input.parameters?.binary_data_size;
    if (size === undefined || size === null) {
      if (input.data === undefined) throw new TensorError(`input '${input.name}' has no data (and no binary_data_size)`);
      return fromJson(input.name, input.shape, datatype, input.data);
    }
    if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) throw new TensorError(`input '${input.name}': binary_data_size must be a non-negative integer, got ${JSON.stringify(size)}`);
    if (input.data !== undefined) throw new TensorError(`input '${input.name}' has both data and binary_data_size; send one`);
    if (offset + size > binary.length) {
      throw new TensorError(`input '${input.name}': binary_data_size ${size} runs past the end of the body (${binary.length - offset} bytes of binary data left)`);
    }
    const tensor = fromBinary(input.name, input.shape, datatype, binary.subarray(offset, offset + size));
    offset += size;
    return tensor;
  });
  if (offset !== binary.length) throw new TensorError(`the body holds ${binary.length - offset} bytes of binary data that no input's binary_data_size claims`);
  const binaryByDefault = binaryParameter(request.parameters?.binary_data_output, 'parameter binary_data_output');
  const outputs = request.outputs?.map((o) => ({ name: o.name, binary: o.parameters?.binary_data === undefined ? binaryByDefault : binaryParameter(o.parameters.binary_data, `output '${o.name}' parameter binary_data`) }));
  return { ...(request.id !== undefined && { id: request.id }), parameters: request.parameters ?? {}, inputs, outputs, binaryByDefault };
}

/** Binary form of an output: little-endian row-major values, or length-prefixed BYTES elements. */
export function toBinary(tensor: OutputTensor): Buffer {
  if (tensor.datatype === 'BYTES') {
    const parts = tensor.elements.map((e) => Buffer.from(e, 'utf8'));
    const out = Buffer.alloc(parts.reduce((n, p) => n + 4 + p.length, 0));
    let at = 0;
    for (const p of parts) {
      out.writeUInt32LE(p.length, at);
      p.copy(out, at + 4);
      at += 4 + p.length;
    }
    return out;
  }
  if (LITTLE_ENDIAN) return Buffer.from(tensor.values.buffer, tensor.values.byteOffset, tensor.values.byteLength);
  const out = Buffer.alloc(tensor.values.length * 4);
  tensor.values.forEach((v, i) => out.writeFloatLE(v, i * 4));
  return out;
}

export interface ResponseHead {
  model_name: string;
  model_version: string;
  id?: string;
  parameters?: Record<string, string | number | boolean>;
}

/** A response: plain JSON, or (when an output is binary) a JSON header followed by binary data. */
export type EncodedResponse = { kind: 'json'; body: Record<string, unknown> } | { kind: 'binary'; headerLength: number; body: Buffer };

export function encodeInferenceResponse(head: ResponseHead, outputs: readonly { tensor: OutputTensor; binary: boolean }[]): EncodedResponse {
  const blobs: Buffer[] = [];
  const described = outputs.map(({ tensor, binary }) => {
    const base = { name: tensor.name, datatype: tensor.datatype, shape: tensor.shape };
    if (!binary) return { ...base, data: tensor.datatype === 'BYTES' ? tensor.elements : Array.from(tensor.values) };
    const blob = toBinary(tensor);
    blobs.push(blob);
    return { ...base, parameters: { binary_data_size: blob.length } };
  });
  const body = { ...head, outputs: described };
  if (blobs.length === 0) return { kind: 'json', body };
  const header = Buffer.from(JSON.stringify(body), 'utf8');
  return { kind: 'binary', headerLength: header.length, body: Buffer.concat([header, ...blobs]) };
}
