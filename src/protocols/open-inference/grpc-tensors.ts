/**
 * The Open Inference Protocol's gRPC messages (`ModelInferRequest`, `ModelInferResponse` of
 * specs/open-inference-protocol/open_inference_grpc.proto) to and from the tensors the REST
 * side parses, so both protocols share one set of checks. Messages are as @grpc/proto-loader
 * decodes them with GRPC_LOADER_OPTIONS: field names as in the .proto, 64-bit integers as
 * decimal strings (read back only within the exactly representable range), defaults filled.
 */
import { checkDatatype, fromBinary, fromJson, TENSOR_LIMITS, TensorError, toBinary, type Datatype, type InputTensor, type OutputTensor, type ParsedRequest, type ResponseHead } from './tensors.js';

/** How the .proto is loaded, so that messages have the shapes below. */
export const GRPC_LOADER_OPTIONS = { keepCase: true, longs: String, enums: String, defaults: true, oneofs: true } as const;

/** InferParameter: one of its fields is set, named by parameter_choice. */
export interface GrpcParameter {
  parameter_choice?: 'bool_param' | 'int64_param' | 'string_param' | 'double_param' | 'uint64_param';
  bool_param?: boolean;
  int64_param?: string;
  string_param?: string;
  double_param?: number;
  uint64_param?: string;
}

/** InferTensorContents: the typed field that matches the datatype holds the elements. */
export interface GrpcContents {
  bool_contents?: boolean[];
  int_contents?: number[];
  int64_contents?: string[];
  uint_contents?: number[];
  uint64_contents?: string[];
  fp32_contents?: number[];
  fp64_contents?: number[];
  bytes_contents?: Uint8Array[];
}

export interface GrpcInferRequest {
  model_name: string;
  model_version: string;
  id: string;
  parameters?: Record<string, GrpcParameter>;
  inputs: { name: string; datatype: string; shape: string[]; parameters?: Record<string, GrpcParameter>; contents?: GrpcContents | null }[];
  outputs?: { name: string; parameters?: Record<string, GrpcParameter> }[];
  raw_input_contents?: Uint8Array[];
}

export interface GrpcInferResponse {
  model_name: string;
  model_version: string;
  id: string;
  parameters: Record<string, GrpcParameter>;
  outputs: { name: string; datatype: string; shape: string[] }[];
  raw_output_contents: Buffer[];
}

/** The contents field each datatype's elements travel in (FP16 only as raw bytes). */
const CONTENTS_FIELD: Record<Datatype, keyof GrpcContents | null> = {
  BOOL: 'bool_contents',
  UINT8: 'uint_contents',
  UINT16: 'uint_contents',
  UINT32: 'uint_contents',
  UINT64: 'uint64_contents',
  INT8: 'int_contents',
  INT16: 'int_contents',
  INT32: 'int_contents',
  INT64: 'int64_contents',
  FP16: null,
  FP32: 'fp32_contents',
  FP64: 'fp64_contents',
  BYTES: 'bytes_contents',
};

/** A 64-bit integer sent as decimal text, as a number (refused beyond the exactly representable range). */
function int64(text: string, what: string): number {
  const value = Number(text);
  if (!/^-?\d{1,20}$/.test(text) || !Number.isSafeInteger(value)) throw new TensorError(`${what} (${text.slice(0, 24)}) is outside the exactly representable integers`);
  return value;
}

/** An InferParameter's value (64-bit integers as numbers). */
export function parameterValue(p: GrpcParameter, what: string): string | number | boolean {
  switch (p.parameter_choice) {
    case 'bool_param':
      return p.bool_param ?? false;
    case 'int64_param':
      return int64(p.int64_param ?? '0', what);
    case 'uint64_param':
      return int64(p.uint64_param ?? '0', what);
    case 'double_param':
      return p.double_param ?? 0;
    case 'string_param':
      return p.string_param ?? '';
    default:
      throw new TensorError(`${what} has no value`);
  }
}

function parameters(map: Record<string, GrpcParameter> | undefined, what: string): Record<string, string | number | boolean> {
  return Object.fromEntries(Object.entries(map ?? {}).map(([k, p]) => [k, parameterValue(p, `${what} parameter '${k}'`)]));
}

function shapeOf(shape: readonly string[], what: string): number[] {
  if (shape.length > TENSOR_LIMITS.maxDims) throw new TensorError(`${what} has ${shape.length} dimensions; at most ${TENSOR_LIMITS.maxDims}`);
  return shape.map((d, i) => {
    const n = int64(d, `${what} dimension ${i}`);
    if (n < 0) throw new TensorError(`${what} dimension ${i} is ${n}; dimensions are not negative`);
    return n;
  });
}

/** One input from its typed contents: only the field its datatype uses may hold elements. */
function fromContents(name: string, shape: number[], datatype: Datatype, contents: GrpcContents | null | undefined): InputTensor {
  const what = `input '${name}'`;
  const field = CONTENTS_FIELD[datatype];
  if (field === null) throw new TensorError(`${what} is ${datatype}: send it in raw_input_contents`);
  for (const [other, values] of Object.entries(contents ?? {}) as [keyof GrpcContents, unknown[]][]) {
    if (other !== field && Array.isArray(values) && values.length > 0) throw new TensorError(`${what} is ${datatype}: its elements go in contents.${field}, not contents.${other}`);
  }
  const values: unknown[] = contents?.[field] ?? [];
  if (datatype === 'BYTES') {
    const n = shape.reduce((a, b) => a * b, 1);
    if (values.length !== n) throw new TensorError(`${what} has shape [${shape.join(', ')}] (${n} elements) but contents.bytes_contents holds ${values.length}`);
    return { name, shape, datatype, elements: values as Uint8Array[] };
  }
  const numbers = field === 'int64_contents' || field === 'uint64_contents' ? (values as string[]).map((v, i) => int64(v, `${what} element ${i}`)) : values;
  return fromJson(name, shape, datatype, numbers);
}

/**
 * A ModelInferRequest as the REST side's ParsedRequest: each input from its typed contents,
 * or, when raw_input_contents is used, every input from its raw bytes in input order (Triton's
 * rule: then no input may carry contents). Every output comes back as raw bytes.
 */
export function parseGrpcInferRequest(request: GrpcInferRequest): ParsedRequest {
  if (request.inputs.length === 0) throw new TensorError('the request has no inputs');
  if (request.inputs.length > TENSOR_LIMITS.maxInputs) throw new TensorError(`the request has ${request.inputs.length} inputs; at most ${TENSOR_LIMITS.maxInputs}`);
  const raw = request.raw_input_contents ?? [];
  if (raw.length > 0 && raw.length !== request.inputs.length) throw new TensorError(`raw_input_contents holds ${raw.length} entries for ${request.inputs.length} inputs; send one per input, in input order`);
  const names = new Set<string>();
  const inputs = request.inputs.map((input, i): InputTensor => {
    const what = `input '${input.name}'`;
    if (input.name.length === 0 || input.name.length > TENSOR_LIMITS.maxNameLength) throw new TensorError(`input ${i} needs a name of 1 to ${TENSOR_LIMITS.maxNameLength} characters`);
    if (names.has(input.name)) throw new TensorError(`${what} is given twice`);
    names.add(input.name);
    const datatype = checkDatatype(input.name, input.datatype);
    const shape = shapeOf(input.shape, what);
    if (raw.length === 0) return fromContents(input.name, shape, datatype, input.contents);
    const typed = Object.values(input.contents ?? {}).some((v) => Array.isArray(v) && v.length > 0);
    if (typed) throw new TensorError(`${what} has contents while the request uses raw_input_contents; send one or the other`);
    return fromBinary(input.name, shape, datatype, raw[i]!);
  });
  const outputs = request.outputs?.length ? request.outputs.map((o) => ({ name: o.name, binary: true })) : undefined;
  return { ...(request.id !== '' && { id: request.id }), parameters: parameters(request.parameters, 'request'), inputs, outputs, binaryByDefault: true };
}

function parameterOf(value: string | number | boolean): GrpcParameter {
  if (typeof value === 'boolean') return { parameter_choice: 'bool_param', bool_param: value };
  if (typeof value === 'string') return { parameter_choice: 'string_param', string_param: value };
  return Number.isInteger(value) ? { parameter_choice: 'int64_param', int64_param: String(value) } : { parameter_choice: 'double_param', double_param: value };
}

/** A ModelInferResponse: every output's elements in raw_output_contents, in output order (as Triton answers). */
export function encodeGrpcInferResponse(head: ResponseHead, outputs: readonly { tensor: OutputTensor }[]): GrpcInferResponse {
  return {
    model_name: head.model_name,
    model_version: head.model_version,
    id: head.id ?? '',
    parameters: Object.fromEntries(Object.entries(head.parameters ?? {}).map(([k, v]) => [k, parameterOf(v)])),
    outputs: outputs.map(({ tensor }) => ({ name: tensor.name, datatype: tensor.datatype, shape: tensor.shape.map(String) })),
    raw_output_contents: outputs.map(({ tensor }) => toBinary(tensor)),
  };
}
