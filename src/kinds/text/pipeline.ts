/**
 * The text pipeline a text classifier declares in its metadata.json, run the same way by the
 * trainer and by the server:
 *
 *   input ─▶ text         an RFC 822 e-mail is parsed by postal-mime (headers, MIME parts,
 *                         quoted-printable, base64, charsets); HTML becomes text through
 *                         html-to-text; plain text stays as sent
 *         ─▶ tokens       runs of letters and digits, with their character spans in the text
 *         ─▶ terms        each token normalised (Unicode form, case); word n-grams
 *         ─▶ features     tf-idf over the version's vocabulary, scaled to unit length
 *
 * Every step is bounded: the text's size, MIME nesting and parts, HTML depth, tokens read.
 */
import { Parser } from 'htmlparser2';
import { convert } from 'html-to-text';
import PostalMime, { decodeWords, type Email } from 'postal-mime';
import { ServingError } from '../../serving/errors.js';
import type { TextPipelineSpec } from './metadata.js';

/** A text input: text as sent (plain text or an e-mail, detected), or the bytes of an e-mail. */
export type TextInput = { text: string } | { email: Uint8Array };

/** Where the analysed text came from. */
export type TextForm = 'text' | 'html' | 'email';

export interface ExtractedText {
  /** The text the model reads; for `text` it is the submitted text itself. */
  text: string;
  form: TextForm;
  /** An e-mail's text starts with its header lines: where they end (the body starts). */
  headerEnd?: number;
}

/** The largest header block of an e-mail, all parts together. */
const MAX_HEADER_BYTES = 256 * 1024;

const tooLargeText = (message: string): ServingError => new ServingError('too-large', 'text-too-large', message);
const tooComplex = (message: string): ServingError => new ServingError('unprocessable', 'email-too-complex', message);

/** Header fields a message's first lines hold; one of them must be among the first lines for text to be read as an e-mail. */
const MESSAGE_HEADERS = new Set(['from', 'to', 'subject', 'date', 'received', 'return-path', 'message-id', 'mime-version', 'content-type', 'delivered-to', 'reply-to', 'sender']);

/** RFC 5322 field name: printable ASCII except the colon. */
function fieldName(line: string): string | undefined {
  const colon = line.indexOf(':');
  if (colon <= 0 || colon > 76) return undefined;
  for (let i = 0; i < colon; i++) {
    const c = line.charCodeAt(i);
    if (c < 33 || c > 126) return undefined;
  }
  return line.slice(0, colon).toLowerCase();
}

/**
 * Whether `text` is an e-mail: an mbox `From ` line first, or a header block (every line up
 * to the first empty one a header field or its folded continuation) naming a message header.
 */
export function looksLikeEmail(text: string): boolean {
  if (text.startsWith('From ')) return true;
  let known = false;
  let start = 0;
  for (let lines = 0; lines < 500; lines++) {
    let end = text.indexOf('\n', start);
    if (end < 0) end = text.length;
    const line = text.slice(start, end).replace(/\r$/, '');
    if (line === '') return known && lines > 0;
    if (line.startsWith(' ') || line.startsWith('\t')) {
      if (lines === 0) return false;
    } else {
      const name = fieldName(line);
      if (name === undefined) return false;
      if (MESSAGE_HEADERS.has(name)) known = true;
    }
    if (end >= text.length) return false;
    start = end + 1;
  }
  return false;
}

/** An HTML document sent as text (not a mention of a tag in prose). */
export function looksLikeHtml(text: string): boolean {
  const head = text.slice(0, 4096).toLowerCase();
  return head.includes('<html') || head.includes('<body') || head.includes('<!doctype html');
}

/** The deepest element nesting of `html`, counted by htmlparser2; stops once past `limit`. */
function htmlDepthExceeds(html: string, limit: number): boolean {
  let depth = 0;
  let exceeded = false;
  const parser = new Parser(
    {
      onopentag() {
        depth++;
        if (depth > limit && !exceeded) {
          exceeded = true;
          parser.pause();
        }
      },
      onclosetag() {
        depth--;
      },
    },
    { decodeEntities: false },
  );
  // Written in slices so that a pause stops the scan early.
  for (let i = 0; i < html.length && !exceeded; i += 16_384) parser.write(html.slice(i, i + 16_384));
  if (!exceeded) parser.end();
  return exceeded;
}

/** HTML as text: html-to-text, links kept as `text [url]`, no line wrapping. */
export function htmlToText(html: string, spec: TextPipelineSpec, maxTextBytes: number): string {
  if (htmlDepthExceeds(html, spec.html.maxDepth)) throw tooComplex(`the HTML nests elements deeper than ${spec.html.maxDepth} levels`);
  return convert(html, {
    wordwrap: false,
    limits: { maxInputLength: maxTextBytes, maxDepth: spec.html.maxDepth },
    selectors: [
      { selector: 'a', options: { hideLinkHrefIfSameAsText: true } },
      { selector: 'img', format: 'skip' },
    ],
  });
}

function addresses(value: Email['to'] | Email['from']): string {
  const list = Array.isArray(value) ? value : value ? [value] : [];
  return list
    .flatMap((a) => (a.group ? a.group : [a]))
    .map((m) => (m.name ? `${m.name} <${m.address}>` : m.address))
    .join(', ');
}

/** The value of header `name` as the text shows it: decoded where postal-mime decodes it, else as sent (unfolded). */
function headerValue(email: Email, name: string): string {
  switch (name) {
    case 'subject':
      return email.subject ?? '';
    case 'from':
      return addresses(email.from);
    case 'to':
      return addresses(email.to);
    case 'cc':
      return addresses(email.cc);
    case 'reply-to':
      return addresses(email.replyTo);
    default:
      return email.headers
        .filter((h) => h.key === name)
        .map((h) => decodeWords(h.value))
        .join(' ');
  }
}

/** Lines declaring a MIME part's Content-Type: an upper bound on the parts postal-mime would build. */
function declaredParts(raw: string): number {
  let count = raw.slice(0, 13).toLowerCase() === 'content-type:' ? 1 : 0;
  for (let i = raw.indexOf('\n'); i >= 0; i = raw.indexOf('\n', i + 1)) {
    if (raw.charCodeAt(i + 1) === 67 /* C */ || raw.charCodeAt(i + 1) === 99 /* c */) {
      if (raw.slice(i + 1, i + 14).toLowerCase() === 'content-type:') count++;
    }
  }
  return count;
}

async function emailText(source: string | Uint8Array, spec: TextPipelineSpec, maxTextBytes: number): Promise<ExtractedText> {
  const { maxNesting, maxParts, headers } = spec.email;
  let raw = source;
  // An mbox envelope line ("From sender date") is framing, not a header.
  const head = typeof raw === 'string' ? raw.slice(0, 5) : Buffer.from(raw.subarray(0, 5)).toString('latin1');
  if (head === 'From ') {
    if (typeof raw === 'string') raw = raw.slice(raw.indexOf('\n') + 1 || raw.length);
    else {
      const nl = raw.indexOf(10);
      raw = nl < 0 ? new Uint8Array(0) : raw.subarray(nl + 1);
    }
  }
  const parts = declaredParts(typeof raw === 'string' ? raw : Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString('latin1'));
  if (parts > maxParts) throw tooComplex(`the e-mail declares ${parts} MIME parts; at most ${maxParts} are read`);
  let email: Email;
  try {
    email = await PostalMime.parse(raw, { maxNestingDepth: maxNesting, maxHeadersSize: MAX_HEADER_BYTES, maxRfc822NestingDepth: 2, attachmentEncoding: 'arraybuffer' });
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    throw tooComplex(`the e-mail cannot be read: ${message}`);
  }
  if (email.attachments.length > maxParts) throw tooComplex(`the e-mail has ${email.attachments.length} attachments; at most ${maxParts} are read`);
  // `*`: every header field in the message's order, unfolded, its RFC 2047 encoded words decoded.
  const lines = headers.includes('*') ? email.headers.map((h) => `${h.key}: ${decodeWords(h.value)}`) : headers.map((name) => `${name}: ${headerValue(email, name)}`);
  const body = email.text ?? (email.html ? htmlToText(email.html, spec, maxTextBytes) : '');
  const header = `${lines.join('\n')}\n\n`;
  return { text: `${header}${body}`, form: 'email', headerEnd: header.length };
}

/** The text an input holds, as the model reads it. Throws ServingError (size, MIME and HTML limits). */
export async function extractText(input: TextInput, spec: TextPipelineSpec, maxTextBytes: number): Promise<ExtractedText> {
  let extracted: ExtractedText;
  if ('email' in input) extracted = await emailText(input.email, spec, maxTextBytes);
  else if (spec.email.read === 'detect' && looksLikeEmail(input.text)) extracted = await emailText(input.text, spec, maxTextBytes);
  else if (looksLikeHtml(input.text)) extracted = { text: htmlToText(input.text, spec, maxTextBytes), form: 'html' };
  else extracted = { text: input.text, form: 'text' };
  const bytes = Buffer.byteLength(extracted.text);
  if (bytes > maxTextBytes) throw tooLargeText(`the ${extracted.form === 'text' ? 'text' : `text of the ${extracted.form === 'email' ? 'e-mail' : 'HTML'}`} is ${bytes} bytes; MAX_TEXT_BYTES is ${maxTextBytes}`);
  return extracted;
}

/** One token: its term (normalised) and where it is in the text (UTF-16 offsets, end exclusive). */
export interface Token {
  term: string;
  start: number;
  end: number;
}

/** Letters and digits (with inner apostrophes, dots, hyphens, underscores and @), or one of $ € £ !. */
const WORDS = /[\p{L}\p{N}]+(?:['’._@-][\p{L}\p{N}]+)*|[$€£!]/gu;

/**
 * The tokens of `text`, at most `maxTokens` (`truncated` says whether more were left unread).
 * With `email.scopeHeaders`, a token before `headerEnd` (in an e-mail's header lines) has its
 * own term, `h:<term>`, apart from the same word in the body.
 */
export function tokenize(text: string, spec: TextPipelineSpec, headerEnd = 0): { tokens: Token[]; truncated: boolean } {
  const scoped = spec.email.scopeHeaders ? headerEnd : 0;
  const { unicode, lowercase } = spec.normalization;
  const tokens: Token[] = [];
  const pattern = new RegExp(WORDS.source, WORDS.flags);
  for (let m = pattern.exec(text); m !== null; m = pattern.exec(text)) {
    if (tokens.length === spec.tokenizer.maxTokens) return { tokens, truncated: true };
    let term = m[0];
    if (unicode !== 'none') term = term.normalize(unicode);
    if (lowercase) term = term.toLowerCase();
    if (m.index < scoped) term = `h:${term}`;
    tokens.push({ term, start: m.index, end: m.index + m[0].length });
  }
  return { tokens, truncated: false };
}

/** Each n-gram occurrence (n = 1 … `ngrams`): its term (words joined by a space) and its first token. */
export function* ngrams(tokens: readonly { term: string }[], n: number): Generator<{ term: string; first: number; length: number }> {
  for (let i = 0; i < tokens.length; i++) {
    let term = tokens[i]!.term;
    yield { term, first: i, length: 1 };
    for (let k = 1; k < n && i + k < tokens.length; k++) {
      term += ` ${tokens[i + k]!.term}`;
      yield { term, first: i, length: k + 1 };
    }
  }
}

/** A sparse feature vector: indices ascending. */
export interface SparseVector {
  indices: Int32Array;
  values: Float32Array;
}

/** tf-idf of term counts (by feature index), scaled to unit length when the pipeline says so. */
export function weigh(counts: ReadonlyMap<number, number>, idf: ArrayLike<number>, spec: TextPipelineSpec): SparseVector {
  const indices = Int32Array.from([...counts.keys()].sort((a, b) => a - b));
  const values = new Float32Array(indices.length);
  let norm = 0;
  indices.forEach((j, k) => {
    const count = counts.get(j)!;
    const tf = spec.features.sublinearTf ? 1 + Math.log(count) : count;
    const v = tf * idf[j]!;
    values[k] = v;
    norm += v * v;
  });
  if (spec.features.norm === 'l2' && norm > 0) {
    const scale = 1 / Math.sqrt(norm);
    for (let k = 0; k < values.length; k++) values[k]! *= scale;
  }
  return { indices, values };
}

/** The features of `tokens` over a vocabulary, and which n-gram occurrences (by first token and length) each one counts. */
export function featuresOf(
  tokens: readonly Token[],
  vocabulary: ReadonlyMap<string, number>,
  idf: ArrayLike<number>,
  spec: TextPipelineSpec,
): { vector: SparseVector; occurrences: Map<number, { first: number; length: number }[]> } {
  const occurrences = new Map<number, { first: number; length: number }[]>();
  for (const gram of ngrams(tokens, spec.features.ngrams)) {
    const j = vocabulary.get(gram.term);
    if (j === undefined) continue;
    const list = occurrences.get(j);
    if (list) list.push({ first: gram.first, length: gram.length });
    else occurrences.set(j, [{ first: gram.first, length: gram.length }]);
  }
  const counts = new Map([...occurrences].map(([j, list]) => [j, list.length]));
  return { vector: weigh(counts, idf, spec), occurrences };
}

/** A sparse vector as the model's dense input. */
export function dense(vector: SparseVector, size: number): Float32Array {
  const out = new Float32Array(size);
  vector.indices.forEach((j, k) => (out[j] = vector.values[k]!));
  return out;
}
