/**
 * Random forests (Breiman 2001) for small tables, deterministic with a seed: CART trees on
 * bootstrap samples, `mtry` features tried per split, grown until a leaf holds fewer than
 * 2 × `minLeaf` rows or is pure. A classification forest averages its leaves' class shares;
 * a regression forest averages its leaves' means.
 *
 * Training and serving compare the same float32 numbers: rows are rounded to float32 (as the
 * server standardizes them into a Float32Array) and every threshold is a float32 lying
 * between two training values, so the ONNX TreeEnsembleRegressor the forest exports answers
 * exactly what `predict` does.
 */
import { encodeModel, GraphBuilder, ONNX_ML_DOMAIN } from '../runtimes/onnx/export.js';
import { seededRandom } from '../random.js';

export interface ForestOptions {
  /** 'classification' over `classes` labels 0..classes-1, or 'regression' of one value. */
  task: 'classification' | 'regression';
  classes: number;
  trees: number;
  /** Features tried at each split. */
  mtry: number;
  /** Fewest rows a leaf holds. */
  minLeaf: number;
  seed: number;
}

interface Tree {
  /** Split feature of each node; -1 for a leaf. */
  feature: number[];
  threshold: number[];
  left: number[];
  right: number[];
  /** A leaf's values: class shares (classification) or its mean (regression). */
  value: number[][];
}

export interface Forest {
  task: ForestOptions['task'];
  /** Outputs per row: the classes, or 1. */
  outputs: number;
  features: number;
  trees: Tree[];
}

/** Rows as the server feeds them: float32. */
export const asFloat32Rows = (rows: readonly (readonly number[])[]): number[][] => rows.map((r) => r.map(Math.fround));

export function trainForest(rows: readonly (readonly number[])[], ys: readonly number[], opts: ForestOptions): Forest {
  const n = rows.length;
  const features = rows[0]!.length;
  const columns = [...Array(features).keys()].map((j) => Float64Array.from(rows, (r) => Math.fround(r[j]!)));
  const random = seededRandom(opts.seed);
  const outputs = opts.task === 'classification' ? opts.classes : 1;
  const trees: Tree[] = [];
  for (let t = 0; t < opts.trees; t++) {
    const sample = Array.from({ length: n }, () => Math.floor(random() * n));
    trees.push(growTree(columns, ys, sample, opts, outputs, random));
  }
  return { task: opts.task, outputs, features, trees };
}

function leafValue(ys: readonly number[], idx: readonly number[], opts: ForestOptions, outputs: number): number[] {
  if (opts.task === 'regression') return [idx.reduce((a, i) => a + ys[i]!, 0) / idx.length];
  const counts = new Array<number>(outputs).fill(0);
  for (const i of idx) counts[ys[i]!]!++;
  return counts.map((c) => c / idx.length);
}

interface Split {
  feature: number;
  threshold: number;
  score: number;
}

/** The best split of `idx` on feature `f`: the largest Σ c²/n (Gini) or Σ s²/n (squared error) over both sides. */
function bestSplitOn(column: Float64Array, ys: readonly number[], idx: readonly number[], f: number, opts: ForestOptions, outputs: number): Split | undefined {
  const order = [...idx].sort((a, b) => column[a]! - column[b]!);
  const m = order.length;
  let best: Split | undefined;
  if (opts.task === 'classification') {
    const left = new Array<number>(outputs).fill(0);
    const total = new Array<number>(outputs).fill(0);
    for (const i of order) total[ys[i]!]!++;
    let sqLeft = 0;
    let sqRight = total.reduce((a, c) => a + c * c, 0);
    for (let k = 0; k < m - 1; k++) {
      const y = ys[order[k]!]!;
      // Moving one row of class y from right to left changes Σc² on each side by ±(2c+1).
      sqLeft += 2 * left[y]! + 1;
      sqRight -= 2 * (total[y]! - left[y]!) - 1;
      left[y]!++;
      const nl = k + 1;
      if (nl < opts.minLeaf || m - nl < opts.minLeaf) continue;
      const a = column[order[k]!]!;
      const b = column[order[k + 1]!]!;
      if (a === b) continue;
      const score = sqLeft / nl + sqRight / (m - nl);
      if (!best || score > best.score) best = { feature: f, threshold: thresholdBetween(a, b), score };
    }
  } else {
    let total = 0;
    for (const i of order) total += ys[i]!;
    let sumLeft = 0;
    for (let k = 0; k < m - 1; k++) {
      sumLeft += ys[order[k]!]!;
      const nl = k + 1;
      if (nl < opts.minLeaf || m - nl < opts.minLeaf) continue;
      const a = column[order[k]!]!;
      const b = column[order[k + 1]!]!;
      if (a === b) continue;
      const score = (sumLeft * sumLeft) / nl + ((total - sumLeft) * (total - sumLeft)) / (m - nl);
      if (!best || score > best.score) best = { feature: f, threshold: thresholdBetween(a, b), score };
    }
  }
  return best;
}

/** A float32 threshold t with a ≤ t < b (a < b, both float32). */
function thresholdBetween(a: number, b: number): number {
  const mid = Math.fround((a + b) / 2);
  return mid >= b ? a : mid;
}

function growTree(columns: Float64Array[], ys: readonly number[], sample: number[], opts: ForestOptions, outputs: number, random: () => number): Tree {
  const tree: Tree = { feature: [], threshold: [], left: [], right: [], value: [] };
  const features = columns.length;
  const add = (): number => {
    tree.feature.push(-1);
    tree.threshold.push(0);
    tree.left.push(-1);
    tree.right.push(-1);
    tree.value.push([]);
    return tree.feature.length - 1;
  };
  const stack: { node: number; idx: number[] }[] = [{ node: add(), idx: sample }];
  while (stack.length > 0) {
    const { node, idx } = stack.pop()!;
    const pure = opts.task === 'classification' ? idx.every((i) => ys[i] === ys[idx[0]!]) : idx.every((i) => ys[i] === ys[idx[0]!]);
    let split: Split | undefined;
    if (!pure && idx.length >= 2 * opts.minLeaf) {
      // mtry features, drawn without replacement.
      const candidates = [...Array(features).keys()];
      for (let k = 0; k < Math.min(opts.mtry, features); k++) {
        const j = k + Math.floor(random() * (features - k));
        [candidates[k], candidates[j]] = [candidates[j]!, candidates[k]!];
        const s = bestSplitOn(columns[candidates[k]!]!, ys, idx, candidates[k]!, opts, outputs);
        if (s && (!split || s.score > split.score)) split = s;
      }
    }
    if (!split) {
      tree.value[node] = leafValue(ys, idx, opts, outputs);
      continue;
    }
    const column = columns[split.feature]!;
    const l = add();
    const r = add();
    tree.feature[node] = split.feature;
    tree.threshold[node] = split.threshold;
    tree.left[node] = l;
    tree.right[node] = r;
    stack.push({ node: r, idx: idx.filter((i) => column[i]! > split.threshold) });
    stack.push({ node: l, idx: idx.filter((i) => column[i]! <= split.threshold) });
  }
  return tree;
}

/** The forest's outputs for one row: averaged class shares, or the averaged mean. */
export function predictForest(forest: Forest, row: readonly number[]): number[] {
  const out = new Array<number>(forest.outputs).fill(0);
  const x = row.map(Math.fround);
  for (const tree of forest.trees) {
    let node = 0;
    while (tree.feature[node]! >= 0) node = x[tree.feature[node]!]! <= tree.threshold[node]! ? tree.left[node]! : tree.right[node]!;
    tree.value[node]!.forEach((v, k) => (out[k]! += v));
  }
  return out.map((v) => v / forest.trees.length);
}

/** Leaves over all trees: the forest's size. */
export const forestLeaves = (forest: Forest): number => forest.trees.reduce((a, t) => a + t.feature.filter((f) => f < 0).length, 0);

/**
 * How a served forest answers one number:
 *   mean:        the regression forest's mean (a continuous score);
 *   most-likely: the classification forest's most likely class, as `offset + class`;
 *   expected:    Σ share(class) · (offset + class), the expected score.
 */
export type ForestAnswer = 'mean' | 'most-likely' | 'expected';

/** The number a forest answers for a row, as its ONNX export does. */
export function forestAnswer(forest: Forest, row: readonly number[], answer: ForestAnswer, offset: number): number {
  const out = predictForest(forest, row);
  if (answer === 'mean') return out[0]!;
  if (answer === 'most-likely') return offset + out.reduce((best, v, k) => (v > out[best]! ? k : best), 0);
  return out.reduce((a, v, k) => a + v * (offset + k), 0);
}

/**
 * The forest as an ONNX model: ai.onnx.ml TreeEnsembleRegressor (float32 comparisons, x ≤ t
 * goes left, leaves averaged) over [N × features] rows, then the answer as [N × 1].
 */
export function exportForest(forest: Forest, opts: { answer: ForestAnswer; offset: number; inputName: string; outputName: string; producerVersion: string; docString?: string }): Uint8Array {
  const g = new GraphBuilder();
  const ints = { treeIds: [] as number[], nodeIds: [] as number[], featureIds: [] as number[], trueIds: [] as number[], falseIds: [] as number[] };
  const values: number[] = [];
  const modes: string[] = [];
  const target = { treeIds: [] as number[], nodeIds: [] as number[], ids: [] as number[], weights: [] as number[] };
  forest.trees.forEach((tree, t) => {
    tree.feature.forEach((f, node) => {
      ints.treeIds.push(t);
      ints.nodeIds.push(node);
      ints.featureIds.push(Math.max(0, f));
      values.push(f >= 0 ? tree.threshold[node]! : 0);
      modes.push(f >= 0 ? 'BRANCH_LEQ' : 'LEAF');
      ints.trueIds.push(f >= 0 ? tree.left[node]! : 0);
      ints.falseIds.push(f >= 0 ? tree.right[node]! : 0);
      if (f < 0) {
        tree.value[node]!.forEach((v, k) => {
          if (v === 0 && forest.outputs > 1) return;
          target.treeIds.push(t);
          target.nodeIds.push(node);
          target.ids.push(k);
          target.weights.push(v);
        });
      }
    });
  });
  const ensemble = g.node(
    'TreeEnsembleRegressor',
    [opts.inputName],
    [
      { name: 'n_targets', i: forest.outputs },
      { name: 'aggregate_function', s: 'AVERAGE' },
      { name: 'post_transform', s: 'NONE' },
      { name: 'nodes_treeids', ints: ints.treeIds },
      { name: 'nodes_nodeids', ints: ints.nodeIds },
      { name: 'nodes_featureids', ints: ints.featureIds },
      { name: 'nodes_values', floats: values },
      { name: 'nodes_modes', strings: modes },
      { name: 'nodes_truenodeids', ints: ints.trueIds },
      { name: 'nodes_falsenodeids', ints: ints.falseIds },
      { name: 'target_treeids', ints: target.treeIds },
      { name: 'target_nodeids', ints: target.nodeIds },
      { name: 'target_ids', ints: target.ids },
      { name: 'target_weights', floats: target.weights },
    ],
    g.name('ensemble'),
    ONNX_ML_DOMAIN,
  );
  if (opts.answer === 'mean') {
    g.node('Identity', [ensemble], [], opts.outputName);
  } else if (opts.answer === 'most-likely') {
    const k = g.node('ArgMax', [ensemble], [
      { name: 'axis', i: 1 },
      { name: 'keepdims', i: 1 },
    ]);
    const asFloat = g.node('Cast', [k], [{ name: 'to', i: 1 }]);
    g.node('Add', [asFloat, g.weight('offset', Float32Array.of(opts.offset), [1])], [], opts.outputName);
  } else {
    const scores = Float32Array.from({ length: forest.outputs }, (_, k) => opts.offset + k);
    g.node('MatMul', [ensemble, g.weight('scores', scores, [forest.outputs, 1])], [], opts.outputName);
  }
  return encodeModel(g, { inputName: opts.inputName, outputName: opts.outputName, producerVersion: opts.producerVersion, ...(opts.docString !== undefined && { docString: opts.docString }) }, ['N', forest.features], ['N', 1]);
}
