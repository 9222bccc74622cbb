/** Parameter and multiply-add counts of a Layers model, computed from its layers. */
import type * as tf from '@tensorflow/tfjs';

export interface Complexity {
  parameters: number;
  trainableParameters: number;
  multiplyAdds: number;
}

function product(dims: ReadonlyArray<number | null>): number {
  return dims.reduce<number>((a, d) => a * (d ?? 1), 1);
}

/** Count parameters and the multiply-adds of one forward pass of a single image. */
export function computeComplexity(model: tf.LayersModel): Complexity {
  let multiplyAdds = 0;
  for (const layer of model.layers) {
    const cls = layer.getClassName();
    const outShape = layer.outputShape as (number | null)[];
    if (cls === 'Conv2D') {
      const kernel = layer.getWeights()[0]!.shape; // [kh, kw, in, out]
      const outPixels = product(outShape.slice(1, 3));
      multiplyAdds += outPixels * product(kernel);
    } else if (cls === 'Dense') {
      multiplyAdds += product(layer.getWeights()[0]!.shape);
    }
  }
  const count = (ws: tf.LayerVariable[]): number => ws.reduce((a, w) => a + product(w.shape), 0);
  return {
    parameters: count(model.weights),
    trainableParameters: count(model.trainableWeights),
    multiplyAdds,
  };
}
