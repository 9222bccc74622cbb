/**
 * Checks on a version's ONNX file before ONNX Runtime reads it: a regular file inside the
 * version folder, within MODEL_MAX_BYTES, that parses as an ONNX ModelProto with a graph, and
 * whose tensors all live inside the file. ONNX lets a tensor point at "external data" by a
 * relative path, which ONNX Runtime would read from beside the model: a hostile model could
 * name any file on the server, so such models are refused.
 */
import { lstat, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import onnxProto from 'onnx-proto';
import { folderBytes, VersionFilesError } from '../../repository/version-files.js';

const { onnx } = onnxProto;
type Graph = onnxProto.onnx.IGraphProto;
type Tensor = onnxProto.onnx.ITensorProto;

/** Subgraphs nest (If, Loop, Scan); deeper than this is refused rather than walked. */
const MAX_GRAPH_DEPTH = 32;

function external(t: Tensor | null | undefined): boolean {
  return !!t && (t.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL || (t.externalData?.length ?? 0) > 0);
}

/** Whether any tensor of `graph` or its subgraphs is stored outside the file. */
function usesExternalData(graph: Graph, depth = 0): boolean {
  if (depth > MAX_GRAPH_DEPTH) throw new VersionFilesError(`model.onnx nests subgraphs deeper than ${MAX_GRAPH_DEPTH}`);
  if (graph.initializer?.some(external)) return true;
  if (graph.sparseInitializer?.some((s) => external(s.values) || external(s.indices))) return true;
  for (const node of graph.node ?? []) {
    for (const a of node.attribute ?? []) {
      if (external(a.t) || a.tensors?.some(external)) return true;
      if (external(a.sparseTensor?.values) || a.sparseTensors?.some((s) => external(s.values) || external(s.indices))) return true;
      if (a.g && usesExternalData(a.g, depth + 1)) return true;
      if (a.graphs?.some((g) => usesExternalData(g, depth + 1))) return true;
    }
  }
  return false;
}

/** Check `dir/file`; throws VersionFilesError with the reason. */
export async function checkOnnxFile(dir: string, file: string, maxBytes: number): Promise<void> {
  await folderBytes(dir, maxBytes);
  const path = join(dir, file);
  const info = await lstat(path).catch(() => undefined);
  if (!info) throw new VersionFilesError(`${file} is missing`);
  if (!info.isFile()) throw new VersionFilesError(`${file} is not a regular file`);
  if (info.size === 0) throw new VersionFilesError(`${file} is empty`);
  let model: onnxProto.onnx.ModelProto;
  try {
    model = onnx.ModelProto.decode(await readFile(path));
  } catch (err) {
    throw new VersionFilesError(`${file} is not an ONNX model: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (!model.graph || (model.graph.node?.length ?? 0) === 0) throw new VersionFilesError(`${file} is not an ONNX model: it holds no graph`);
  if (usesExternalData(model.graph)) throw new VersionFilesError(`${file} keeps tensors in external data files, which are not served; save the model with its weights inside the file`);
}
