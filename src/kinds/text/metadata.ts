/**
 * `<repository>/<name>/<version>/metadata.json` of a text classifier: its labels and its whole
 * text pipeline (how an input becomes text, normalisation, tokenizer, vocabulary and
 * features), so that the trainer and the server read the same declaration and cannot drift.
 */
import { z } from 'zod';
import { calibrationSchema } from '../metadata.js';
import { onnxSectionSchema } from '../../runtimes/onnx/metadata.js';

/** Bounds that keep a hostile metadata.json from asking for unbounded memory. */
export const TEXT_LIMITS = { maxLabels: 1000, maxFeatures: 1 << 20, maxTokens: 1_000_000, maxHeaders: 64 };

/** Header names as e-mails spell them (RFC 5322 field names), lowercased. */
const headerName = z.string().regex(/^([a-z0-9-]{1,64}|\*)$/, 'a lowercase header field name, or * for every header');

export const emailSchema = z.object({
  /**
   * When an input is read as an RFC 822 e-mail: `detect` (a message/rfc822 body always; text
   * whose first lines are header fields, or an mbox `From ` line, too), `never` (text only).
   */
  read: z.enum(['detect', 'never']).default('detect'),
  /** The header fields whose values become the first lines of the text ("subject: …", encoded words decoded), in this order; `*` is every field of the message, in its order. */
  headers: z.array(headerName).max(TEXT_LIMITS.maxHeaders).default(['subject']),
  /** Words of the header lines are features of their own (`h:<word>`), apart from the same words in the body. */
  scopeHeaders: z.boolean().default(false),
  /** MIME limits: deeper nesting, more declared parts or more attachments are refused. */
  maxNesting: z.number().int().min(1).max(256).default(16),
  maxParts: z.number().int().min(1).max(100_000).default(1000),
});

export const textPipelineSchema = z.object({
  email: emailSchema.prefault({}),
  /** HTML (an e-mail's HTML part, or text that is an HTML document) becomes text with html-to-text; deeper nesting is refused. */
  html: z.object({ maxDepth: z.number().int().min(1).max(4096).default(256) }).prefault({}),
  normalization: z.object({ unicode: z.enum(['NFC', 'NFKC', 'none']).default('NFKC'), lowercase: z.boolean().default(true) }).prefault({}),
  tokenizer: z.object({
    /** `words`: runs of letters and digits (inner ' . - _ @ kept), and each of $ € £ ! as a token. */
    type: z.literal('words'),
    /** Tokens read from one input; the rest of a longer text is not read (the answer says so). */
    maxTokens: z.number().int().min(1).max(TEXT_LIMITS.maxTokens),
  }),
  features: z.object({
    /** Word n-grams from 1 to `ngrams` (1: words; 2: words and pairs of adjacent words). */
    ngrams: z.number().int().min(1).max(3),
    /** tf-idf: (1 + ln count) × idf when `sublinearTf`, else count × idf; then scaled to unit length (l2). */
    weighting: z.literal('tfidf'),
    sublinearTf: z.boolean(),
    norm: z.enum(['l2', 'none']),
    /** The vocabulary file in the version folder: `{"terms": [...], "idf": [...]}`, one entry per model input. */
    vocabulary: z.string().regex(/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,200}\.json$/, 'a file name in the version folder ending in .json'),
    size: z.number().int().min(1).max(TEXT_LIMITS.maxFeatures),
  }),
});

export type TextPipelineSpec = z.infer<typeof textPipelineSchema>;

export const textMetadataSchema = z.object({
  kind: z.literal('text-classifier'),
  name: z.string().min(1).max(200).optional(),
  version: z.string().min(1).max(200).optional(),
  description: z.string().max(10_000).optional(),
  labels: z.array(z.string().min(1).max(200)).min(2).max(TEXT_LIMITS.maxLabels),
  output: z.literal('probabilities'),
  text: textPipelineSchema,
  /** Examples the demo page offers (short texts with their expected label). */
  examples: z.array(z.object({ title: z.string().max(200), text: z.string().max(20_000) })).max(20).optional(),
  validation: z.record(z.string(), z.unknown()).optional(),
  crossValidation: z.record(z.string(), z.unknown()).optional(),
  training: z.record(z.string(), z.unknown()).optional(),
  onnx: onnxSectionSchema.optional(),
  calibration: calibrationSchema.optional(),
  createdAt: z.string().optional(),
});

export type TextMetadata = z.infer<typeof textMetadataSchema>;
