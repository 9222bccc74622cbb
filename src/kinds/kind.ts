/**
 * The seam where a model kind plugs in. A kind is one folder under `src/kinds/` that owns
 * everything kind-specific, as KServe's `Model` (preprocess → predict → postprocess) and
 * BentoML's IO descriptors (typed inputs from HTTP and protobuf bodies) do: its metadata,
 * reading its native inputs, the cache key, preparing the runtime's tensor, the answer and
 * its native response, its Open Inference Protocol tensors, its explanations, its OpenAPI
 * pieces and the load-time check. The dataplane and the protocol adapters only call it.
 */
import type { OpenAPIV3 } from 'openapi-types';
import type { z } from 'zod';
import type { InputTensor, OutputTensor, TensorMetadata } from '../protocols/open-inference/tensors.js';
import type { ModelSignature } from '../runtimes/runtime.js';
import type { RuntimeNeeds } from '../runtimes/select.js';
import type { modelRefSchema } from '../schemas/predict.js';
import type { Outcome } from '../serving/errors.js';

/** The request limits a kind reads inputs under (from the configuration). */
export interface InputLimits {
  /** Bytes of one upload (MAX_UPLOAD_BYTES). */
  maxUploadBytes: number;
  /** Bytes of all uploads of one batch (MAX_BATCH_UPLOAD_BYTES). */
  maxBatchUploadBytes: number;
  /** Inputs of one batch request (MAX_BATCH_FILES). */
  maxBatchInputs: number;
  /** Pixels of one decoded image (MAX_INPUT_PIXELS). */
  maxInputPixels: number;
  /** Bytes of one text or e-mail (MAX_TEXT_BYTES). */
  maxTextBytes: number;
}

/** What a version is bound with: the model's name (for messages), its folder (files its kind reads, such as a vocabulary) and the request limits. */
export interface BindContext {
  name: string;
  dir: string;
  limits: InputLimits;
}

/** One file of a multipart body. */
export interface UploadedFile {
  field: string;
  filename: string | null;
  bytes: Buffer;
  /** Cut at the upload limit. */
  truncated: boolean;
}

/** A native request body as the protocol adapter received it, Fastify-free. */
export type NativeBody =
  | { type: 'multipart'; files(): AsyncIterable<UploadedFile> }
  | { type: 'raw'; bytes: Buffer; /** The Content-Type header as sent (with its parameters). */ contentType: string }
  | { type: 'json'; value: unknown }
  | { type: 'none' };

/** One entry of a native batch: its input, or why it cannot be used (it fails alone). */
export interface BatchEntry<I> {
  filename: string | null;
  input: Outcome<I>;
}

/** A warning an answer carries (a value outside the training range), with the feature it names. */
export interface InputWarning {
  message: string;
  feature?: string;
}

/** An input checked and ready to prepare: what identifies it for the cache, and its warnings. */
export interface Inspected {
  /** The bytes that identify the input, and how they are read (two readings of the same bytes differ). */
  key: { bytes: Uint8Array; variant?: string };
  warnings: InputWarning[];
  /** The runtime's tensor for this input (decoding, resizing, standardizing). */
  prepare(): Promise<Prepared>;
}

export interface Prepared {
  tensor: Float32Array;
  /** A note kept with the answer for logs (an image's real format). */
  note?: string;
  /** Warnings found only while reading the input (a text cut at its token limit); cached with the output. */
  warnings?: InputWarning[];
}

/** What an answer is, for metrics, traffic statistics and logs: a class or a value. */
export type Summary = { label: string; confidence: number } | { value: number };

export interface AnswerOptions {
  /** How many classes to list in top_k. */
  topK: number;
}

export interface ExplainRequest {
  method?: string;
  target?: string;
  /** Side of an occluding patch (image methods). */
  patch: number;
  /** The format asked for in the query (json | png), which wins over Accept. */
  format?: string;
  /** Accept asks for image/png rather than JSON. */
  acceptsPng: boolean;
  /** The width of a drawn explanation. */
  pngWidth: number;
}

/** The model on many inputs, through the version's batcher. */
export type Evaluate = (inputs: Float32Array[]) => Promise<Float32Array[]>;

export interface Explanation {
  method: string;
  evaluations: number;
  /** The JSON answer (without model and latency). */
  body: Record<string, unknown>;
  /** A drawn explanation, with headers describing it. */
  png?: { bytes: Buffer; headers: Record<string, string> };
  /** Fields for the request's log line. */
  log: Record<string, string | number>;
}

/** An explanation checked (method, target, cost) before it takes a slot; `run` does the work. */
export interface ExplainPlan {
  method: string;
  run(evaluate: Evaluate): Promise<Explanation>;
}

/** The model's Open Inference Protocol view. */
export interface OpenInferenceMapping<I> {
  /** The input tensor it takes (one), the output tensors it gives, and free-form properties. */
  inputs: TensorMetadata[];
  outputs: TensorMetadata[];
  properties: Record<string, string>;
  /** What the batch axis counts, for messages ("images", "rows"). */
  items: string;
  /** A request tensor (already checked against its shape and datatype) into inputs; a bad element fails alone. */
  decode(input: InputTensor): Outcome<I>[];
  /** The outputs of every input, as the output tensors by name. */
  encode(outputs: readonly Float32Array[]): Record<string, OutputTensor>;
}

/** The model's own OpenAPI document pieces (GET /v1/models/{name}/openapi.json). */
export interface OpenApiPieces {
  summary: string;
  batchSummary: string;
  single: OpenAPIV3.RequestBodyObject;
  batch: OpenAPIV3.RequestBodyObject;
  answer: OpenAPIV3.SchemaObject;
}

/**
 * One version's kind-specific behaviour, bound to its metadata once when it loads. `I` is the
 * kind's typed input; outside the kind it is opaque.
 */
export interface KindModel<I = unknown> {
  /** metadata.json's `kind`. */
  readonly kind: string;
  /** Class labels (empty for a model that answers a value). */
  readonly labels: readonly string[];
  readonly signature: ModelSignature;
  readonly runtime: RuntimeNeeds;
  /**
   * Versions whose contracts are equal prepare an input into the same tensor (a shadow
   * version reuses the primary's).
   */
  readonly contract: string;

  /** A real input, prepared as requests are, run once before the version serves. */
  sampleInput(): Promise<Float32Array>;
  /** Throws unless `output` is what the model must give for one input. */
  checkOutput(output: Float32Array): void;
  /** What GET /v1/models/{name} reports about the version. */
  describe(): Record<string, unknown>;

  /** The one input of a native /predict or /explain body. */
  readSingle(body: NativeBody): Promise<I>;
  /** The inputs of a native /predict/batch body, at most limits.maxBatchInputs. */
  readBatch(body: NativeBody): Promise<BatchEntry<I>[]>;

  /** Check an input (throws ServingError) and say how it is keyed and prepared. */
  inspect(input: I): Inspected;
  /** The native answer's fields for one output. */
  answer(output: Float32Array, opts: AnswerOptions): Record<string, unknown>;
  summarize(output: Float32Array): Summary;

  readonly openInference: OpenInferenceMapping<I>;
  /** Check an explanation request (throws ServingError) before it takes a slot. */
  planExplanation(input: I, request: ExplainRequest): ExplainPlan;
  openApi(): OpenApiPieces;
}

/** A model kind: its metadata.json and how a version of it behaves. */
export interface ModelKind<M = unknown> {
  /** The values of metadata.json's `kind` it serves. */
  readonly names: readonly string[];
  /** metadata.json parsed and checked (throws an Error with the reason). */
  parseMetadata(raw: unknown): M;
  /** A version's behaviour, built once at load (reading the version's own files where the kind has any). */
  bind(metadata: M, context: BindContext): KindModel | Promise<KindModel>;
  /** The native answers it gives (one object schema per form, with `model` and `latency_ms`). */
  readonly answerSchemas: readonly AnswerSchema[];
  /** Its explanations' JSON answers. */
  readonly explanationSchemas: readonly z.ZodType[];
  /** Its native request bodies in the service's OpenAPI document, where a route schema cannot say them. */
  requestBodies?(): Record<'predict' | 'batch', OpenAPIV3.RequestBodyObject>;
}

/** A native answer's schema. */
export type AnswerSchema = z.ZodObject<{ model: typeof modelRefSchema; latency_ms: z.ZodNumber }>;
