/**
 * A decoder for plain baseline JPEGs whose output equals libjpeg-turbo's (the decoder inside
 * sharp) byte for byte: its integer "islow" IDCT, its "fancy" (triangle) chroma upsampling and
 * its fixed-point YCbCr → RGB tables. sharp's per-call set-up (a libvips pipeline, two hops to
 * the thread pool) costs more than decoding a 1 KB image; this costs a tenth of it.
 *
 * It takes only what it can decode exactly and returns null for everything else, which sharp
 * then decodes as before: progressive or arithmetic coding, 12-bit samples, CMYK/YCCK, Adobe
 * or RGB-tagged colour, an ICC profile, EXIF (it may rotate), unusual sampling factors,
 * several scans, or anything corrupt, truncated or odd (sharp's errors and warnings stay its
 * own). No hand-written shortcuts change a pixel.
 */

export interface JpegPixels {
  width: number;
  height: number;
  /** Interleaved 8-bit RGB, width × height × 3. */
  rgb: Uint8Array;
}

/** Not a JPEG this decoder reproduces exactly: sharp decodes it. */
class Decline extends Error {}
const decline = (): never => {
  throw new Decline();
};

/** Zig-zag position → natural (row-major) position. */
const NATURAL_ORDER = Uint8Array.from([
  0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5, 12, 19, 26, 33, 40, 48, 41, 34, 27, 20, 13, 6, 7, 14, 21, 28, 35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37,
  44, 51, 58, 59, 52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47, 55, 62, 63,
]);

interface HuffmanTable {
  /** 2^LOOKAHEAD entries for codes of up to LOOKAHEAD bits: (length << 8) | symbol, 0 when longer. */
  fast: Uint16Array;
  /** Per length 1..16: the largest code of that length (−1: none), and where its symbols start. */
  maxCode: Int32Array;
  offset: Int32Array;
  symbols: Uint8Array;
}

const LOOKAHEAD = 9;

/**
 * Work buffers reused from one decode to the next (decoding is synchronous), so that a small
 * image allocates only its output: fewer short-lived buffers for the garbage collector.
 * Buffers past SCRATCH_MAX bytes are not kept.
 */
const SCRATCH_MAX = 1 << 20;
const scratchBuffers: Uint8Array[] = [];
function scratch(slot: number, size: number): Uint8Array {
  if (size > SCRATCH_MAX) return new Uint8Array(size);
  const have = scratchBuffers[slot];
  if (have && have.length >= size) return have.subarray(0, size);
  const fresh = new Uint8Array(size);
  scratchBuffers[slot] = fresh;
  return fresh;
}
const SLOT_PLANE = 0; // + component index (0..2)
const SLOT_UPSAMPLED = 3; // + component index
const SLOT_CROPPED = 6; // + component index

/** A block's coefficients, the IDCT's workspace, and the four quantisation table slots (refilled by each file's DQT segments). */
const COEF = new Int16Array(64);
const WORKSPACE = new Float64Array(64);
const QUANT = Array.from({ length: 4 }, () => new Uint16Array(64));

/** Built tables by their DHT bytes: most uploads come from a few encoders' standard tables. */
const huffmanCache = new Map<string, HuffmanTable>();

/** Canonical codes from the DHT counts (ITU T.81 Annex C), refused where libjpeg would refuse them. */
function buildHuffman(counts: Uint8Array, symbols: Uint8Array, isDc: boolean): HuffmanTable {
  const fast = new Uint16Array(1 << LOOKAHEAD);
  const maxCode = new Int32Array(18).fill(-1);
  const offset = new Int32Array(18);
  let code = 0;
  let k = 0;
  for (let len = 1; len <= 16; len++) {
    const n = counts[len - 1]!;
    offset[len] = k - code;
    for (let i = 0; i < n; i++, k++, code++) {
      if (len <= LOOKAHEAD) {
        const shift = LOOKAHEAD - len;
        for (let fill = code << shift, end = (code + 1) << shift; fill < end; fill++) fast[fill] = (len << 8) | symbols[k]!;
      }
    }
    if (n > 0) maxCode[len] = code - 1;
    // A code that does not fit its length: a bad table (libjpeg: "Bogus Huffman table definition").
    if (code > 1 << len) decline();
    code <<= 1;
  }
  if (isDc && symbols.some((s) => s > 15)) decline();
  return { fast, maxCode, offset, symbols };
}

/** Bits of one entropy-coded segment, 0xFF00 unstuffed; a marker ends it (zero bits after, as libjpeg). */
class BitReader {
  private buf = 0;
  private count = 0;
  /** Zero bits appended past the segment's end. Reading into them means the data is short. */
  private padding = 0;

  constructor(
    private readonly data: Uint8Array,
    public pos: number,
  ) {}

  private fill(): void {
    while (this.count <= 16) {
      let byte = 0;
      if (this.padding === 0 && this.pos < this.data.length) {
        byte = this.data[this.pos]!;
        if (byte === 0xff) {
          if (this.data[this.pos + 1] === 0x00) this.pos += 2;
          else {
            byte = 0;
            this.padding += 8;
          }
        } else this.pos++;
      } else this.padding += 8;
      this.buf = (this.buf << 8) | byte;
      this.count += 8;
    }
  }

  peek(n: number): number {
    if (this.count < n) this.fill();
    return (this.buf >>> (this.count - n)) & ((1 << n) - 1);
  }

  skip(n: number): void {
    this.count -= n;
    this.buf &= (1 << this.count) - 1;
    if (this.count < this.padding) decline();
  }

  bits(n: number): number {
    if (n === 0) return 0;
    const v = this.peek(n);
    this.skip(n);
    return v;
  }

  decode(t: HuffmanTable): number {
    const look = t.fast[this.peek(LOOKAHEAD)]!;
    if (look !== 0) {
      this.skip(look >> 8);
      return look & 0xff;
    }
    for (let len = LOOKAHEAD + 1; len <= 16; len++) {
      const code = this.peek(len);
      if (code <= t.maxCode[len]!) {
        this.skip(len);
        return t.symbols[code + t.offset[len]!]!;
      }
    }
    return decline();
  }

  /** Start over at `pos`, past a restart marker. */
  restart(pos: number): void {
    this.pos = pos;
    this.buf = this.count = this.padding = 0;
  }

  /** Whole bytes of data still unread in the buffer (beyond the last partial byte). */
  unreadBytes(): number {
    return Math.floor((this.count - this.padding) / 8);
  }
}

const extend = (v: number, s: number): number => (v < 1 << (s - 1) ? v - (1 << s) + 1 : v);

interface Component {
  id: number;
  /** Position in the frame (which work buffers it uses). */
  index: number;
  h: number;
  v: number;
  tq: number;
  /** Blocks per line and per column in the component's plane (whole MCUs). */
  bw: number;
  bh: number;
  /** Samples per line in the plane (bw × 8), and the real (downsampled) width and height. */
  stride: number;
  width: number;
  height: number;
  plane: Uint8Array;
  dc: HuffmanTable | undefined;
  ac: HuffmanTable | undefined;
  pred: number;
}

// libjpeg's jidctint.c constants (CONST_BITS 13, PASS1_BITS 2).
const F0_298 = 2446;
const F0_390 = 3196;
const F0_541 = 4433;
const F0_765 = 6270;
const F0_899 = 7373;
const F1_175 = 9633;
const F1_501 = 12299;
const F1_847 = 15137;
const F1_961 = 16069;
const F2_053 = 16819;
const F2_562 = 20995;
const F3_072 = 25172;

/**
 * A sample after the IDCT: x + 128, clamped. libjpeg-turbo's C code wraps values beyond ±512
 * (range_limit[x & 1023]) where its SIMD code saturates; no real photo gets there, and such a
 * block is declined rather than guessed.
 */
function rangeLimit(x: number): number {
  if (x < -512 || x > 511) decline();
  return x < -128 ? 0 : x > 127 ? 255 : x + 128;
}

/** A first-pass IDCT value: libjpeg-turbo's SIMD code keeps it in 16 bits (saturating), its C code in 32. */
function pass1(x: number): number {
  if (x < -32768 || x > 32767) decline();
  return x;
}

// DESCALE(x, n): x / 2^n rounded half up; exact in doubles (scaling by a power of two).
const descale11 = (x: number): number => Math.floor(x * (1 / 2048) + 0.5);
const descale18 = (x: number): number => Math.floor(x * (1 / 262144) + 0.5);
const descale5 = (x: number): number => Math.floor(x * (1 / 32) + 0.5);

/** One 1-D pass's eight outputs before descaling. */
const LINE = new Float64Array(8);

/**
 * The 8-point 1-D inverse DCT of jidctint.c (its even and odd parts), before descaling, into
 * LINE. Products stay exact (doubles, as libjpeg's 64-bit JLONG).
 */
function idct8(x0: number, x1: number, x2: number, x3: number, x4: number, x5: number, x6: number, x7: number): void {
  // Even part.
  const z1 = (x2 + x6) * F0_541;
  const e2 = z1 - x6 * F1_847;
  const e3 = z1 + x2 * F0_765;
  const e0 = (x0 + x4) * 8192;
  const e1 = (x0 - x4) * 8192;
  const t10 = e0 + e3;
  const t13 = e0 - e3;
  const t11 = e1 + e2;
  const t12 = e1 - e2;
  // Odd part.
  const z5 = (x7 + x3 + x5 + x1) * F1_175;
  const a = (x7 + x1) * -F0_899;
  const b = (x5 + x3) * -F2_562;
  const c = (x7 + x3) * -F1_961 + z5;
  const d = (x5 + x1) * -F0_390 + z5;
  const o0 = x7 * F0_298 + a + c;
  const o1 = x5 * F2_053 + b + d;
  const o2 = x3 * F3_072 + b + c;
  const o3 = x1 * F1_501 + a + d;
  LINE[0] = t10 + o3;
  LINE[7] = t10 - o3;
  LINE[1] = t11 + o2;
  LINE[6] = t11 - o2;
  LINE[2] = t12 + o1;
  LINE[5] = t12 - o1;
  LINE[3] = t13 + o0;
  LINE[4] = t13 - o0;
}

/**
 * jpeg_idct_islow: 2-D inverse DCT of one dequantised block into 8 × 8 samples at `out[at]`:
 * columns into the workspace (descaled by CONST_BITS − PASS1_BITS), then rows (by CONST_BITS +
 * PASS1_BITS + 3), with libjpeg's shortcuts for all-zero AC terms (same results).
 */
function idctIslow(coef: Int16Array, q: Uint16Array, ws: Float64Array, out: Uint8Array, at: number, stride: number): void {
  for (let c = 0; c < 8; c++) {
    if (coef[c + 8] === 0 && coef[c + 16] === 0 && coef[c + 24] === 0 && coef[c + 32] === 0 && coef[c + 40] === 0 && coef[c + 48] === 0 && coef[c + 56] === 0) {
      const dc = pass1(coef[c]! * q[c]! * 4);
      for (let r = 0; r < 8; r++) ws[r * 8 + c] = dc;
      continue;
    }
    idct8(coef[c]! * q[c]!, coef[c + 8]! * q[c + 8]!, coef[c + 16]! * q[c + 16]!, coef[c + 24]! * q[c + 24]!, coef[c + 32]! * q[c + 32]!, coef[c + 40]! * q[c + 40]!, coef[c + 48]! * q[c + 48]!, coef[c + 56]! * q[c + 56]!);
    for (let r = 0; r < 8; r++) ws[r * 8 + c] = pass1(descale11(LINE[r]!));
  }
  for (let r = 0; r < 8; r++) {
    const w = r * 8;
    const o = at + r * stride;
    if (ws[w + 1] === 0 && ws[w + 2] === 0 && ws[w + 3] === 0 && ws[w + 4] === 0 && ws[w + 5] === 0 && ws[w + 6] === 0 && ws[w + 7] === 0) {
      out.fill(rangeLimit(descale5(ws[w]!)), o, o + 8);
      continue;
    }
    idct8(ws[w]!, ws[w + 1]!, ws[w + 2]!, ws[w + 3]!, ws[w + 4]!, ws[w + 5]!, ws[w + 6]!, ws[w + 7]!);
    for (let k = 0; k < 8; k++) out[o + k] = rangeLimit(descale18(LINE[k]!));
  }
}

/**
 * One component at full size (width × height samples), by libjpeg-turbo's fancy upsampling:
 * h2v1, h1v2 and h2v2 triangle filters, with the first and last real rows repeated beyond
 * the image's edges as libjpeg's context rows are.
 */
function upsample(c: Component, hf: number, vf: number, width: number, height: number): Uint8Array {
  if (hf === 1 && vf === 1) {
    if (c.stride === width) return c.plane;
    const out = scratch(SLOT_CROPPED + c.index, width * height);
    for (let y = 0; y < height; y++) out.set(c.plane.subarray(y * c.stride, y * c.stride + width), y * width);
    return out;
  }
  const { plane, stride, width: dw, height: dh } = c;
  const ow = dw * hf;
  const out = scratch(SLOT_UPSAMPLED + c.index, ow * dh * vf);
  const row = (y: number): number => Math.min(Math.max(y, 0), dh - 1) * stride;
  for (let y = 0; y < dh; y++) {
    const cur = row(y);
    if (vf === 1) {
      // h2v1_fancy_upsample
      const o = y * ow;
      let v = plane[cur]!;
      out[o] = v;
      out[o + 1] = (v * 3 + plane[cur + 1]! + 2) >> 2;
      for (let x = 1; x < dw - 1; x++) {
        v = plane[cur + x]! * 3;
        out[o + 2 * x] = (v + plane[cur + x - 1]! + 1) >> 2;
        out[o + 2 * x + 1] = (v + plane[cur + x + 1]! + 2) >> 2;
      }
      v = plane[cur + dw - 1]!;
      out[o + 2 * dw - 2] = (v * 3 + plane[cur + dw - 2]! + 1) >> 2;
      out[o + 2 * dw - 1] = v;
      continue;
    }
    for (let half = 0; half < 2; half++) {
      const other = row(half === 0 ? y - 1 : y + 1);
      const o = (y * 2 + half) * ow;
      if (hf === 1) {
        // h1v2_fancy_upsample
        const bias = half === 0 ? 1 : 2;
        for (let x = 0; x < dw; x++) out[o + x] = (plane[cur + x]! * 3 + plane[other + x]! + bias) >> 2;
        continue;
      }
      // h2v2_fancy_upsample
      let thisSum = plane[cur]! * 3 + plane[other]!;
      let nextSum = plane[cur + 1]! * 3 + plane[other + 1]!;
      out[o] = (thisSum * 4 + 8) >> 4;
      out[o + 1] = (thisSum * 3 + nextSum + 7) >> 4;
      let lastSum = thisSum;
      thisSum = nextSum;
      for (let x = 1; x < dw - 1; x++) {
        nextSum = plane[cur + x + 1]! * 3 + plane[other + x + 1]!;
        out[o + 2 * x] = (thisSum * 3 + lastSum + 8) >> 4;
        out[o + 2 * x + 1] = (thisSum * 3 + nextSum + 7) >> 4;
        lastSum = thisSum;
        thisSum = nextSum;
      }
      out[o + 2 * dw - 2] = (thisSum * 3 + lastSum + 8) >> 4;
      out[o + 2 * dw - 1] = (thisSum * 4 + 7) >> 4;
    }
  }
  if (ow === width && dh * vf === height) return out;
  const cropped = scratch(SLOT_CROPPED + c.index, width * height);
  for (let y = 0; y < height; y++) cropped.set(out.subarray(y * ow, y * ow + width), y * width);
  return cropped;
}

// jdcolor.c's tables: 16-bit fixed point, rounded as libjpeg-turbo rounds them.
const CR_R = new Int32Array(256);
const CB_B = new Int32Array(256);
const CR_G = new Int32Array(256);
const CB_G = new Int32Array(256);
{
  const fix = (x: number): number => Math.floor(x * 65536 + 0.5);
  for (let i = 0; i < 256; i++) {
    const x = i - 128;
    CR_R[i] = (fix(1.402) * x + 32768) >> 16;
    CB_B[i] = (fix(1.772) * x + 32768) >> 16;
    CR_G[i] = -fix(0.71414) * x;
    CB_G[i] = -fix(0.34414) * x + 32768;
  }
}
const clamp8 = (x: number): number => (x < 0 ? 0 : x > 255 ? 255 : x);

/** The APPn payloads that change how libvips reads a JPEG: EXIF (rotation), ICC, Adobe. */
function isDecisiveApp(marker: number, data: Uint8Array, at: number, length: number): boolean {
  const starts = (tag: string): boolean => length >= tag.length && [...tag].every((ch, i) => data[at + i] === ch.charCodeAt(0));
  if (marker === 0xe1) return starts('Exif\0');
  if (marker === 0xe2) return starts('ICC_PROFILE\0');
  return marker === 0xee;
}

export interface JpegLimits {
  maxPixels: number;
  /** Decline (before decoding) unless the image has exactly this size. */
  width?: number;
  height?: number;
}

/**
 * Decode `bytes` as libjpeg-turbo would, or return null when it is not a plain baseline JPEG
 * this decoder reproduces exactly, or not within `limits`.
 */
export function decodeBaselineJpeg(bytes: Uint8Array, limits: JpegLimits): JpegPixels | null {
  try {
    return decode(Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), limits);
  } catch (err) {
    if (err instanceof Decline || err instanceof RangeError) return null;
    throw err;
  }
}

function decode(data: Buffer, limits: JpegLimits): JpegPixels | null {
  if (data.length < 4 || data[0] !== 0xff || data[1] !== 0xd8) return null;
  const quant: (Uint16Array | undefined)[] = [];
  const dcTables: (HuffmanTable | undefined)[] = [];
  const acTables: (HuffmanTable | undefined)[] = [];
  let components: Component[] = [];
  let width = 0;
  let height = 0;
  let hmax = 1;
  let vmax = 1;
  let restartInterval = 0;
  let sawJfif = false;
  let decoded = false;
  let pos = 2;
  const u16 = (at: number): number => {
    if (at + 1 >= data.length) decline();
    return (data[at]! << 8) | data[at + 1]!;
  };
  for (;;) {
    if (pos >= data.length || data[pos] !== 0xff) return decline();
    let marker = data[pos + 1]!;
    // Fill bytes before a marker.
    while (marker === 0xff) marker = data[++pos + 1] ?? decline();
    pos += 2;
    if (marker === 0xd9) break; // EOI
    if (decoded) return decline(); // a second scan, DNL or anything after the image's one scan
    const length = u16(pos);
    const end = pos + length;
    if (length < 2 || end > data.length) return decline();
    const at = pos + 2;
    if (marker >= 0xe0 && marker <= 0xef) {
      if (isDecisiveApp(marker, data, at, length - 2)) return decline();
      if (marker === 0xe0 && length >= 7 && data[at] === 0x4a && data[at + 1] === 0x46 && data[at + 2] === 0x49 && data[at + 3] === 0x46 && data[at + 4] === 0) sawJfif = true;
    } else if (marker === 0xdb) {
      for (let p = at; p < end; ) {
        const pq = data[p]! >> 4;
        const tq = data[p]! & 15;
        if (tq > 3 || pq > 1) return decline();
        const table = QUANT[tq]!;
        for (let k = 0; k < 64; k++) table[NATURAL_ORDER[k]!] = pq ? u16(p + 1 + 2 * k) : data[p + 1 + k]!;
        if (table.includes(0)) return decline();
        quant[tq] = table;
        p += 1 + 64 * (pq + 1);
        if (p > end) return decline();
      }
    } else if (marker === 0xc4) {
      for (let p = at; p < end; ) {
        const tc = data[p]! >> 4;
        const th = data[p]! & 15;
        if (tc > 1 || th > 3 || p + 17 > end) return decline();
        const counts = data.subarray(p + 1, p + 17);
        const total = counts.reduce((a, b) => a + b, 0);
        if (total > 256 || p + 17 + total > end) return decline();
        const key = data.toString('latin1', p, p + 17 + total);
        let table = huffmanCache.get(key);
        if (!table) {
          table = buildHuffman(counts, data.subarray(p + 17, p + 17 + total), tc === 0);
          if (huffmanCache.size >= 64) huffmanCache.clear();
          huffmanCache.set(key, table);
        }
        (tc === 0 ? dcTables : acTables)[th] = table;
        p += 17 + total;
      }
    } else if (marker === 0xdd) {
      restartInterval = u16(at);
    } else if (marker === 0xc0 || marker === 0xc1) {
      if (components.length > 0 || data[at] !== 8) return decline();
      height = u16(at + 1);
      width = u16(at + 3);
      const n = data[at + 5]!;
      if (width === 0 || height === 0 || width * height > limits.maxPixels || (n !== 1 && n !== 3) || at + 6 + n * 3 > end) return decline();
      if ((limits.width !== undefined && width !== limits.width) || (limits.height !== undefined && height !== limits.height)) return decline();
      for (let i = 0; i < n; i++) {
        const b = at + 6 + i * 3;
        const h = data[b + 1]! >> 4;
        const v = data[b + 1]! & 15;
        if (h < 1 || h > 2 || v < 1 || v > 2 || data[b + 2]! > 3) return decline();
        components.push({ id: data[b]!, index: i, h, v, tq: data[b + 2]!, bw: 0, bh: 0, stride: 0, width: 0, height: 0, plane: new Uint8Array(0), dc: undefined, ac: undefined, pred: 0 });
      }
      hmax = Math.max(...components.map((c) => c.h));
      vmax = Math.max(...components.map((c) => c.v));
      // Luma at full size; a grey image's one component any factors (one block per MCU).
      if (n === 1) components = [{ ...components[0]!, h: 1, v: 1 }];
      else if (components[0]!.h !== hmax || components[0]!.v !== vmax || components.slice(1).some((c) => c.h !== 1 || c.v !== 1)) return decline();
      // Without JFIF, libjpeg reads component ids R, G, B as RGB colour.
      if (n === 3 && !sawJfif && components.map((c) => c.id).join() === '82,71,66') return decline();
      if (n === 1) hmax = vmax = 1;
      const mcusX = Math.ceil(width / (8 * hmax));
      const mcusY = Math.ceil(height / (8 * vmax));
      for (const [index, c] of components.entries()) {
        c.index = index;
        c.bw = mcusX * c.h;
        c.bh = mcusY * c.v;
        c.stride = c.bw * 8;
        c.plane = scratch(SLOT_PLANE + index, c.stride * c.bh * 8);
        c.width = Math.ceil((width * c.h) / hmax);
        c.height = Math.ceil((height * c.v) / vmax);
        // libjpeg-turbo upsamples a 1- or 2-sample-wide component without the triangle filter.
        if ((c.h < hmax || c.v < vmax) && c.width <= 2) return decline();
      }
    } else if (marker === 0xda) {
      if (components.length === 0) return decline();
      const ns = data[at]!;
      if (ns !== components.length || at + 1 + ns * 2 + 3 > end) return decline();
      for (let i = 0; i < ns; i++) {
        const c = components[i]!;
        if (data[at + 1 + i * 2] !== c.id) return decline();
        const sel = data[at + 2 + i * 2]!;
        c.dc = dcTables[sel >> 4];
        c.ac = acTables[sel & 15];
        if (!c.dc || !c.ac || !quant[c.tq]) return decline();
      }
      const ss = data[at + 1 + ns * 2]!;
      const se = data[at + 2 + ns * 2]!;
      const ahal = data[at + 3 + ns * 2]!;
      if (ss !== 0 || se !== 63 || ahal !== 0) return decline();
      pos = decodeScan(data, end, components, quant, restartInterval);
      decoded = true;
      continue;
    } else if (marker >= 0xc2 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
      return decline(); // progressive, lossless, hierarchical, arithmetic
    } else if (marker !== 0xfe && !(marker >= 0xf0 && marker <= 0xfd)) {
      return decline();
    }
    pos = end;
  }
  if (!decoded) return decline();
  return { width, height, rgb: toRgb(components, width, height, hmax, vmax) };
}

/** The one interleaved (or single-component) baseline scan, into each component's plane. */
function decodeScan(data: Uint8Array, start: number, components: Component[], quant: (Uint16Array | undefined)[], restartInterval: number): number {
  const bits = new BitReader(data, start);
  const coef = COEF;
  const ws = WORKSPACE;
  const single = components.length === 1;
  const c0 = components[0]!;
  // A single-component scan is not interleaved: its MCU is one block, over the real size only.
  const mcusX = single ? Math.ceil(c0.width / 8) : c0.bw / c0.h;
  const mcusY = single ? Math.ceil(c0.height / 8) : c0.bh / c0.v;
  const total = mcusX * mcusY;
  let restarts = 0;
  for (const c of components) c.pred = 0;
  const block = (c: Component, bx: number, by: number): void => {
    const q = quant[c.tq]!;
    coef.fill(0);
    const t = bits.decode(c.dc!);
    const diff = t === 0 ? 0 : extend(bits.bits(t), t);
    c.pred += diff;
    coef[0] = c.pred;
    // libjpeg-turbo's SIMD IDCT dequantises in 16 bits, its C code in 32: where they could
    // differ (no real photo comes near), sharp decodes.
    if (Math.abs(coef[0] * q[0]!) > 32767) decline();
    for (let k = 1; k < 64; ) {
      const rs = bits.decode(c.ac!);
      const r = rs >> 4;
      const s = rs & 15;
      if (s === 0) {
        if (r !== 15) break;
        k += 16;
        continue;
      }
      k += r;
      if (k > 63) decline();
      const at = NATURAL_ORDER[k]!;
      coef[at] = extend(bits.bits(s), s);
      if (Math.abs(coef[at] * q[at]!) > 32767) decline();
      k++;
    }
    idctIslow(coef, q, ws, c.plane, by * 8 * c.stride + bx * 8, c.stride);
  };
  for (let m = 0; m < total; m++) {
    if (restartInterval > 0 && m > 0 && m % restartInterval === 0) {
      // Extra whole bytes before the marker are libjpeg's "extraneous data" warning: declined.
      if (bits.unreadBytes() > 0 || data[bits.pos] !== 0xff || data[bits.pos + 1] !== 0xd0 + (restarts & 7)) decline();
      restarts++;
      bits.restart(bits.pos + 2);
      for (const c of components) c.pred = 0;
    }
    const mx = m % mcusX;
    const my = Math.floor(m / mcusX);
    if (single) block(c0, mx, my);
    else for (const c of components) for (let v = 0; v < c.v; v++) for (let h = 0; h < c.h; h++) block(c, mx * c.h + h, my * c.v + v);
  }
  if (bits.unreadBytes() > 0) decline();
  return bits.pos;
}

function toRgb(components: Component[], width: number, height: number, hmax: number, vmax: number): Uint8Array {
  const rgb = new Uint8Array(width * height * 3);
  const [yc, cbc, crc] = components as [Component, Component?, Component?];
  const y = upsample(yc, 1, 1, width, height);
  if (!cbc || !crc) {
    for (let i = 0, o = 0; i < width * height; i++, o += 3) rgb[o] = rgb[o + 1] = rgb[o + 2] = y[i]!;
    return rgb;
  }
  const cb = upsample(cbc, hmax / cbc.h, vmax / cbc.v, width, height);
  const cr = upsample(crc, hmax / crc.h, vmax / crc.v, width, height);
  for (let i = 0, o = 0; i < width * height; i++, o += 3) {
    const l = y[i]!;
    const b = cb[i]!;
    const r = cr[i]!;
    rgb[o] = clamp8(l + CR_R[r]!);
    rgb[o + 1] = clamp8(l + ((CB_G[b]! + CR_G[r]!) >> 16));
    rgb[o + 2] = clamp8(l + CB_B[b]!);
  }
  return rgb;
}
