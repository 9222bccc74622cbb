/** SGD with Nesterov momentum and decoupled-from-BN weight decay, on plain arrays. */
export class NesterovSgd {
  readonly velocity: Float32Array[];

  constructor(
    shapes: readonly number[],
    private readonly momentum: number,
    private readonly weightDecay: number,
    /** Whether weight decay applies to each tensor (kernels yes, BN and biases no). */
    private readonly decay: readonly boolean[],
  ) {
    this.velocity = shapes.map((n) => new Float32Array(n));
  }

  /** Update `params` in place from `grads` with learning rate `lr`. */
  step(params: Float32Array[], grads: readonly Float32Array[], lr: number): void {
    const mu = this.momentum;
    params.forEach((w, k) => {
      const g = grads[k]!;
      const v = this.velocity[k]!;
      const wd = this.decay[k] ? this.weightDecay : 0;
      for (let i = 0; i < w.length; i++) {
        const gi = g[i]! + wd * w[i]!;
        const vi = mu * v[i]! + gi;
        v[i] = vi;
        w[i] = w[i]! - lr * (gi + mu * vi);
      }
    });
  }
}

/** One-cycle schedule: linear warm-up from peak/10 to peak, then linear decay to zero. */
export function oneCycle(step: number, totalSteps: number, warmupSteps: number, peak: number): number {
  if (step < warmupSteps) return peak * (0.1 + (0.9 * step) / Math.max(1, warmupSteps));
  return peak * Math.max(0, (totalSteps - step) / Math.max(1, totalSteps - warmupSteps));
}
