/**
 * Occlusion attribution (Zeiler & Fergus): slide a patch over the image, replace it with the
 * dataset mean (0 after normalisation), and record how much the target class's probability
 * drops. A pixel's attribution is the mean drop over the patches that cover it. Works with
 * any runtime: it only evaluates the model, in batches.
 */

export interface OcclusionGeometry {
  height: number;
  width: number;
  /** How one normalised image is laid out (the preprocessing contract's layout). */
  layout: 'NHWC' | 'NCHW';
}

export interface OcclusionOptions {
  /** Side of the square patch, in model-input pixels. */
  patch: number;
  /** Step between patch positions. */
  stride: number;
}

/** Patch positions along one side: every `stride`, and the last one flush with the edge. */
function positions(size: number, patch: number, stride: number): number[] {
  const out: number[] = [];
  for (let p = 0; p + patch < size; p += stride) out.push(p);
  out.push(Math.max(0, size - patch));
  return [...new Set(out)];
}

/** Model evaluations one explanation costs: every patch position, plus the image itself. */
export function occlusionEvaluations(g: Pick<OcclusionGeometry, 'height' | 'width'>, o: OcclusionOptions): number {
  return positions(g.height, o.patch, o.stride).length * positions(g.width, o.patch, o.stride).length + 1;
}

/** The occluded copies of `input`, one per patch position, with their top-left corners. */
function occludedVariants(input: Float32Array, g: OcclusionGeometry, o: OcclusionOptions): { variants: Float32Array[]; corners: [number, number][] } {
  const plane = g.height * g.width;
  const variants: Float32Array[] = [];
  const corners: [number, number][] = [];
  for (const y0 of positions(g.height, o.patch, o.stride)) {
    for (const x0 of positions(g.width, o.patch, o.stride)) {
      const v = Float32Array.from(input);
      for (let y = y0; y < Math.min(g.height, y0 + o.patch); y++) {
        for (let x = x0; x < Math.min(g.width, x0 + o.patch); x++) {
          for (let c = 0; c < 3; c++) v[g.layout === 'NHWC' ? (y * g.width + x) * 3 + c : c * plane + y * g.width + x] = 0;
        }
      }
      variants.push(v);
      corners.push([y0, x0]);
    }
  }
  return { variants, corners };
}

/** Per-pixel mean drop of `target`'s probability over the patches covering each pixel. */
function attributionMap(base: number, scores: readonly number[], corners: readonly [number, number][], g: Pick<OcclusionGeometry, 'height' | 'width'>, patch: number): number[][] {
  const sum = Array.from({ length: g.height }, () => new Float64Array(g.width));
  const count = Array.from({ length: g.height }, () => new Uint16Array(g.width));
  corners.forEach(([y0, x0], k) => {
    const drop = base - scores[k]!;
    for (let y = y0; y < Math.min(g.height, y0 + patch); y++) {
      for (let x = x0; x < Math.min(g.width, x0 + patch); x++) {
        sum[y]![x]! += drop;
        count[y]![x]!++;
      }
    }
  });
  return sum.map((row, y) => Array.from(row, (s, x) => Math.round((s / Math.max(1, count[y]![x]!)) * 1e6) / 1e6));
}

export interface Occlusion {
  attribution: number[][];
  /** The target's probability on the unoccluded image. */
  probability: number;
  evaluations: number;
}

/**
 * Explain one class on `input`: `target` picks it from the unoccluded probabilities (the
 * predicted class, or one the client named); `evaluate` runs the model on a batch of inputs.
 */
export async function occlusion(
  input: Float32Array,
  target: (probabilities: Float32Array) => number,
  g: OcclusionGeometry,
  o: OcclusionOptions,
  evaluate: (inputs: Float32Array[]) => Promise<Float32Array[]>,
): Promise<Occlusion & { target: number; probabilities: Float32Array }> {
  const { variants, corners } = occludedVariants(input, g, o);
  const outputs = await evaluate([input, ...variants]);
  const t = target(outputs[0]!);
  const base = outputs[0]![t]!;
  const scores = outputs.slice(1).map((p) => p[t]!);
  return { attribution: attributionMap(base, scores, corners, g, o.patch), probability: base, evaluations: outputs.length, target: t, probabilities: outputs[0]! };
}
