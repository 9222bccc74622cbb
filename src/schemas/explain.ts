/** Explanations: the query (each kind's answer schema lives with the kind). */
import { z } from 'zod';
import { queryParams } from './predict.js';

export const explainQuerySchema = queryParams({
  target: z.string().min(1).max(200).optional().describe('The class to explain (a label); default: the predicted class'),
  method: z.string().max(40).optional().describe('Images: occlusion (the default) or sampling (512 random pixel masks). Rows: shapley (the default)'),
  format: z.enum(['json', 'png']).optional().describe('Images: png for the attribution map drawn over the image (as Accept: image/png)'),
  patch: z.coerce.number().int().min(2).max(32).default(4).describe('Occlusion: side of the occluding patch in model-input pixels; it moves by half its side. Cost: (positions per side)² + 1 model evaluations (4 on 32×32: 226; 8: 50)'),
});

