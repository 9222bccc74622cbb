import { describe, expect, it } from 'vitest';
import { toPrediction } from '../../src/inference/postprocess.js';

describe('toPrediction', () => {
  const labels = ['a', 'b', 'c', 'd'];

  it('picks the arg-max and orders top_k by probability', () => {
    const p = toPrediction(Float32Array.from([0.1, 0.6, 0.05, 0.25]), labels, 3);
    expect(p.class_label).toBe('b');
    expect(p.class_index).toBe(1);
    expect(p.confidence).toBeCloseTo(0.6, 6);
    expect(p.top_k.map((t) => t.label)).toEqual(['b', 'd', 'a']);
    expect(p.probabilities).toHaveLength(4);
  });

  it('caps top_k at the number of labels and breaks ties by label index', () => {
    const p = toPrediction(Float32Array.from([0.25, 0.25, 0.25, 0.25]), labels, 10);
    expect(p.top_k.map((t) => t.label)).toEqual(['a', 'b', 'c', 'd']);
    expect(p.class_index).toBe(0);
  });
});
