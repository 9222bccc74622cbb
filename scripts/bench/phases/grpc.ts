/**
 * grpc: the Open Inference Protocol over gRPC against the same over REST, on one ONNX Runtime
 * server (cache off): ModelInfer with the fixture photos as raw UINT8 pixels [1, 32, 32, 3]
 * (raw_input_contents, raw outputs) from a @grpc/grpc-js client made from the official .proto,
 * and /v2 binary infer with the same pixels, each at concurrency 32 for --duration seconds,
 * --rounds each, alternating which goes first: OK answers per second, p50, and the server's CPU
 * per answer (all its threads, /proc).
 */
import { join } from 'node:path';
import { credentials, loadPackageDefinition, Metadata, type Client, type ServiceError } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import sharp from 'sharp';
import { GRPC_LOADER_OPTIONS } from '../../../src/protocols/open-inference/grpc-tensors.js';
import { duration, images, log, port, results, save, values, want } from '../context.js';
import { load, modelName, ok, percentile, processCpuSeconds, startServer, stopServer, v2PixelRequests, warmUp } from '../harness.js';

type Infer = (request: object, metadata: Metadata, callback: (err: ServiceError | null) => void) => void;
type InferenceClient = Client & { ModelInfer: Infer };

export const GRPC_FORMS = ['grpc ModelInfer raw UINT8', 'v2 binary UINT8 (REST)'] as const;

/** `concurrency` calls at a time for `seconds`: answers, failures and each OK call's latency. */
async function grpcLoad(client: InferenceClient, requests: object[], concurrency: number, seconds: number): Promise<{ ok: number; failed: number; p50: number }> {
  const until = performance.now() + seconds * 1000;
  const latencies: number[] = [];
  let failed = 0;
  let next = 0;
  const loop = async (): Promise<void> => {
    while (performance.now() < until) {
      const message = requests[next++ % requests.length]!;
      const started = performance.now();
      const err = await new Promise<ServiceError | null>((resolve) => client.ModelInfer(message, new Metadata(), resolve));
      if (err) failed++;
      else latencies.push(performance.now() - started);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, loop));
  latencies.sort((a, b) => a - b);
  return { ok: latencies.length, failed, p50: Math.round(percentile(latencies, 50) * 10) / 10 };
}

export async function run(): Promise<void> {
  if (!want('grpc')) return;
  const g = (results.grpc ??= { rps: {}, p50: {}, cpuMs: {}, errors: {} });
  const rounds = Number(values.rounds);
  const done = (): number => Math.min(...GRPC_FORMS.map((n) => g.rps[n]?.length ?? 0));
  if (done() >= rounds) return;

  const grpcPort = port + 1;
  const { inference } = loadPackageDefinition(loadSync(join('specs', 'open-inference-protocol', 'open_inference_grpc.proto'), GRPC_LOADER_OPTIONS)) as unknown as {
    inference: { GRPCInferenceService: new (address: string, creds: ReturnType<typeof credentials.createInsecure>) => InferenceClient };
  };
  const pixels = await Promise.all(images.map((jpeg) => sharp(jpeg).removeAlpha().raw().toBuffer()));
  const messages = pixels.map((px) => ({ model_name: modelName, inputs: [{ name: 'image', datatype: 'UINT8', shape: [1, 32, 32, 3] }], raw_input_contents: [px] }));
  const rest = await v2PixelRequests();

  const server = await startServer({ CACHE_MAX_ENTRIES: '0', INFERENCE_RUNTIME: 'onnx', GRPC_PORT: String(grpcPort) });
  const client = new inference.GRPCInferenceService(`127.0.0.1:${grpcPort}`, credentials.createInsecure());
  try {
    // Both paths at the measured concurrency until the JIT settles (a first 10-s round measured
    // a third of the later rounds' rate without it).
    await warmUp();
    await load(server.pid!, 32, 5, undefined, undefined, rest);
    await grpcLoad(client, messages, 32, 5);
    for (let i = done(); i < rounds; i++) {
      const order = i % 2 === 0 ? GRPC_FORMS : [...GRPC_FORMS].reverse();
      for (const form of order) {
        if ((g.rps[form]?.length ?? 0) > i) continue;
        log(`grpc: ${form}, concurrency 32, ${duration} s (round ${i + 1} of ${rounds})`);
        const cpuBefore = processCpuSeconds(server.pid!);
        let answered: number;
        let p50: number;
        let errors: number;
        if (form === 'grpc ModelInfer raw UINT8') {
          const r = await grpcLoad(client, messages, 32, duration);
          [answered, p50, errors] = [r.ok, r.p50, r.failed];
        } else {
          const r = await load(server.pid!, 32, duration, undefined, undefined, rest);
          [answered, p50, errors] = [ok(r), r.p50, r.errors + r.timeouts + r.requests - ok(r)];
        }
        const cpuMs = ((processCpuSeconds(server.pid!) - cpuBefore) * 1000) / Math.max(1, answered);
        (g.rps[form] ??= []).push(answered / duration);
        (g.p50[form] ??= []).push(p50);
        (g.cpuMs[form] ??= []).push(cpuMs);
        g.errors[form] = (g.errors[form] ?? 0) + errors;
        await save();
        log(`  ${(answered / duration).toFixed(0)} answers/s, p50 ${p50} ms, server CPU ${cpuMs.toFixed(2)} ms per answer, ${errors} failed`);
      }
    }
  } finally {
    client.close();
    await stopServer(server);
  }
}
