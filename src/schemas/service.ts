import { z } from 'zod';

export const healthSchema = z.object({ status: z.literal('ok') }).meta({ id: 'Health', example: { status: 'ok' } });

export const readySchema = z
  .object({
    status: z.literal('ready'),
    backend: z.string(),
    models: z.array(z.object({ name: z.string(), version: z.string() })),
  })
  .meta({ id: 'Ready', example: { status: 'ready', backend: 'wasm', models: [{ name: 'cifar10', version: '1' }] } });

export const serviceInfoSchema = z
  .object({
    name: z.string(),
    version: z.string(),
    backend: z.string().nullable(),
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
