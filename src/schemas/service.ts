import { z } from 'zod';
import { RUNTIME_NAMES } from '../runtimes/runtime.js';

export const healthSchema = z.object({ status: z.literal('ok') }).meta({ id: 'Health', example: { status: 'ok' } });

export const readySchema = z
  .object({
    status: z.literal('ready'),
    backend: z.string().describe('The TF.js backend of the inference hosts (tensorflow, wasm or cpu), or none while no TF.js model is loaded: hosts load TF.js only for a TF.js model'),
    models: z.array(
      z.object({
        name: z.string(),
        version: z.string(),
        runtime: z.enum(RUNTIME_NAMES).describe('The runtime serving this version'),
        backend: z.string().describe("The runtime's backend"),
      }),
    ),
  })
  .meta({ id: 'Ready', example: { status: 'ready', backend: 'wasm', models: [{ name: 'cifar10', version: '1', runtime: 'onnx', backend: 'cpu' }] } });

export const serviceInfoSchema = z
  .object({
    name: z.string(),
    version: z.string(),
    backend: z.string().nullable().describe('The TF.js backend of the inference hosts, or null while no TF.js model is loaded'),
    status: z.enum(['loading', 'ready', 'failed', 'shutting_down']),
    model: z
      .object({
        name: z.string(),
        version: z.string(),
        labels: z.array(z.string()),
        input_shape: z.array(z.number()),
      })
      .nullable(),
    links: z.record(z.string(), z.string()),
  })
  .meta({ id: 'ServiceInfo' });
