/**
 * Checks on a version's ONNX file before ONNX Runtime reads it: a regular file inside the
 * version folder, within MODEL_MAX_BYTES, that parses as an ONNX ModelProto with a graph, and
 * whose tensors all live inside the file. ONNX lets a tensor point at "external data" by a
 * relative path, which ONNX Runtime would read from beside the model: a hostile model could
 * name any file on the server, so such models are refused.
 */
import { lstat, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { folderBytes, VersionFilesError } from '../../repository/version-files.js';

/** Subgraphs nest (If, Loop, Scan); deeper than this is refused rather than walked. */
const MAX_GRAPH_DEPTH = 32;

/**
 * The file is read at the protobuf wire level, descending only into the messages that can
 * hold a tensor (onnx.proto's field numbers): decoding the whole ModelProto took about 0.4 s
 * for the wine forest's 3.9 MB of tree attributes, on the server's start-up path.
 */
const MODEL_GRAPH = 7;
const GRAPH = { node: 1, initializer: 5, sparseInitializer: 15 };
const NODE_ATTRIBUTE = 5;
const ATTRIBUTE = { t: 5, g: 6, tensors: 10, graphs: 11, sparseTensor: 22, sparseTensors: 23 };
const SPARSE = { values: 1, indices: 2 };
const TENSOR = { externalData: 13, dataLocation: 14 };
const DATA_LOCATION_EXTERNAL = 1;

class WireError extends Error {}

interface Field {
  field: number;
  /** A varint's value; for a length-delimited field, its length. */
  value: number;
  /** For a length-delimited field, its bytes' bounds. */
  start: number;
  end: number;
  wire: number;
}

/**
 * Call `visit` with each field of the message in buf[start, end), each checked to lie inside
 * it. A plain loop with one reused record: a forest's attributes hold a field per number
 * (onnx.proto is proto2, its repeated numbers unpacked), millions of them.
 */
function eachField(buf: Buffer, start: number, end: number, visit: (f: Field) => void): void {
  const f: Field = { field: 0, value: 0, start: 0, end: 0, wire: 0 };
  let pos = start;
  const varint = (): number => {
    let value = 0;
    for (let i = 0; i < 10; i++) {
      if (pos >= end) throw new WireError(`truncated at byte ${pos}`);
      const b = buf[pos++]!;
      value += (b & 0x7f) * 2 ** (7 * i);
      if (b < 0x80) return value;
    }
    throw new WireError(`a varint longer than 10 bytes at byte ${pos}`);
  };
  while (pos < end) {
    const at = pos;
    const tag = varint();
    f.field = Math.floor(tag / 8);
    f.wire = tag % 8;
    if (f.field === 0) throw new WireError(`field number 0 at byte ${at}`);
    if (f.wire === 0) f.value = varint();
    else if (f.wire === 1) pos += 8;
    else if (f.wire === 5) pos += 4;
    else if (f.wire === 2) {
      f.value = varint();
      if (f.value > end - pos) throw new WireError(`a field of ${f.value} bytes at byte ${pos} runs past the end`);
      f.start = pos;
      pos += f.value;
      f.end = pos;
    } else throw new WireError(`invalid wire type ${f.wire} at byte ${at}`);
    if (pos > end) throw new WireError(`truncated at byte ${at}`);
    visit(f);
  }
}

/** The fields of a message, as copies (for the few small messages walked more than once). */
function fields(buf: Buffer, start: number, end: number): Field[] {
  const out: Field[] = [];
  eachField(buf, start, end, (f) => out.push({ ...f }));
  return out;
}

const messages = (buf: Buffer, start: number, end: number, field: number): Field[] => [...fields(buf, start, end)].filter((f) => f.field === field && f.wire === 2);

function externalTensor(buf: Buffer, t: Field): boolean {
  for (const f of fields(buf, t.start, t.end)) {
    if (f.field === TENSOR.externalData && f.wire === 2) return true;
    if (f.field === TENSOR.dataLocation && f.wire === 0 && f.value === DATA_LOCATION_EXTERNAL) return true;
  }
  return false;
}

const externalSparse = (buf: Buffer, s: Field): boolean => [...fields(buf, s.start, s.end)].some((f) => f.wire === 2 && (f.field === SPARSE.values || f.field === SPARSE.indices) && externalTensor(buf, f));

/** Whether a graph (or a subgraph) keeps a tensor outside the file; its node count too. */
function walkGraph(buf: Buffer, g: Field, depth: number): { external: boolean; nodes: number } {
  if (depth > MAX_GRAPH_DEPTH) throw new VersionFilesError(`model.onnx nests subgraphs deeper than ${MAX_GRAPH_DEPTH}`);
  let nodes = 0;
  for (const f of fields(buf, g.start, g.end)) {
    if (f.wire !== 2) continue;
    if (f.field === GRAPH.initializer && externalTensor(buf, f)) return { external: true, nodes };
    if (f.field === GRAPH.sparseInitializer && externalSparse(buf, f)) return { external: true, nodes };
    if (f.field !== GRAPH.node) continue;
    nodes++;
    for (const a of messages(buf, f.start, f.end, NODE_ATTRIBUTE)) {
      let external = false;
      eachField(buf, a.start, a.end, (x) => {
        if (external || x.wire !== 2) return;
        if (x.field === ATTRIBUTE.t || x.field === ATTRIBUTE.tensors) external = externalTensor(buf, x);
        else if (x.field === ATTRIBUTE.sparseTensor || x.field === ATTRIBUTE.sparseTensors) external = externalSparse(buf, x);
        else if (x.field === ATTRIBUTE.g || x.field === ATTRIBUTE.graphs) external = walkGraph(buf, { ...x }, depth + 1).external;
      });
      if (external) return { external: true, nodes };
    }
  }
  return { external: false, nodes };
}

/** What the checks need of a ModelProto: its graphs' node count, and whether any tensor is external. Throws WireError when it does not parse. */
export function scanOnnxModel(buf: Buffer): { nodes: number; external: boolean } {
  let nodes = 0;
  let external = false;
  // Every top-level field is walked (a malformed one refuses the file); a graph given twice
  // is merged by protobuf, so each is checked.
  for (const f of fields(buf, 0, buf.length)) {
    if (f.field !== MODEL_GRAPH || f.wire !== 2) continue;
    const g = walkGraph(buf, f, 0);
    nodes += g.nodes;
    external ||= g.external;
  }
  return { nodes, external };
}

/** Check `dir/file`; throws VersionFilesError with the reason. */
export async function checkOnnxFile(dir: string, file: string, maxBytes: number): Promise<void> {
  await folderBytes(dir, maxBytes);
  const path = join(dir, file);
  const info = await lstat(path).catch(() => undefined);
  if (!info) throw new VersionFilesError(`${file} is missing`);
  if (!info.isFile()) throw new VersionFilesError(`${file} is not a regular file`);
  if (info.size === 0) throw new VersionFilesError(`${file} is empty`);
  let scan: { nodes: number; external: boolean };
  try {
    scan = scanOnnxModel(await readFile(path));
  } catch (err) {
    if (err instanceof VersionFilesError) throw err;
    throw new VersionFilesError(`${file} is not an ONNX model: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (scan.nodes === 0) throw new VersionFilesError(`${file} is not an ONNX model: it holds no graph`);
  if (scan.external) throw new VersionFilesError(`${file} keeps tensors in external data files, which are not served; save the model with its weights inside the file`);
}
