/**
 * Throughput benchmark: the real service under HTTP load, against the engine's ceiling and
 * the naive design, measured in the same run. This entry point runs the phases in order; each
 * is a module of phases/, sharing the settings and results of context.ts and the server and
 * load harness of harness.ts.
 *
 *   npm run bench -- [--duration 10] [--concurrency 1,8,32,128] [--soak 120] [--out reports/bench] [--resume]
 *                    [--phases ceiling,service,…] [--rounds 4]
 *
 * Phases (each result is saved as it completes; --resume skips finished phases):
 *   ceiling   the bare model on each runtime (TF.js, ONNX Runtime), same weights, in worker
 *             threads at batch MAX_BATCH_SIZE, no HTTP; as images/s and as a fraction of the
 *             CPU's FP32 peak (cores × clock × SIMD lanes × 2 FMA units × 2 flops)
 *   service   the default configuration (worker instances + dynamic batching) at each
 *             concurrency, once per runtime (INFERENCE_RUNTIME=tfjs | onnx)
 *   threading ONNX Runtime at concurrency 32: on the main thread (INFERENCE_WORKERS=0), one
 *             worker with 2 intra-op threads, one worker per core with 1 each
 *   profile   a CPU profile of the server (every thread) at concurrency 32 on ONNX Runtime
 *   runtimes  TF.js and ONNX Runtime servers alternately, --rounds each, at concurrency 1 and 32:
 *             single runs vary too much on a shared VM to compare two configurations
 *   naive     INFERENCE_WORKERS=0 MAX_BATCH_SIZE=1: one instance on the main thread, no batching
 *   cache     repeated image (hit path) vs distinct images (miss path), embedded LRU and Redis;
 *             sequential keep-alive latency of hits and misses; the cost of a /metrics scrape
 *   soak      the service at concurrency 32 for --soak seconds, RSS sampled over time
 *   protocols the native API and the Open Inference Protocol on one ONNX Runtime server at
 *             concurrency 32, alternating, --rounds each: /predict with a multipart JPEG; V2
 *             binary infer with UINT8 pixels [1, 32, 32, 3]; V2 binary infer with the JPEG as BYTES
 *   grpc      the Open Inference Protocol over gRPC (ModelInfer, raw UINT8 pixels, a @grpc/grpc-js
 *             client) against /v2 binary UINT8 over REST on one ONNX Runtime server, concurrency
 *             32, alternating, --rounds each: answers/s, p50 and the server's CPU per answer
 *   hosts     inference hosts as child processes against worker threads (ONNX Runtime, cache
 *             off), servers started afresh and alternated, --rounds each: start-up to ready,
 *             the process tree's idle PSS, /predict multipart req/s and CPU per request at
 *             concurrency 32, p50 at concurrency 1
 *   traffic   shadow traffic's cost to primary latency: one server with two versions of the
 *             model, /predict at concurrency 1 and 8 with no shadow and with every request
 *             mirrored to the other version (fraction 1), alternating, --rounds each
 *   fleet     3 replicas behind nginx sharing redis-server and an s3rver store: a tabular predict
 *             at concurrency 32 straight to one replica and through nginx to 1, 2 and 3
 *             replicas, alternating, --rounds each; the time a traffic policy set on one replica
 *             takes to be served by all, with Redis notices and by polling alone (every 2 s)
 *   text      the spam filter on a typical 4 KB e-mail, cache off: req/s at concurrency 32 and p50 at
 *             concurrency 1, as message/rfc822 and as JSON {"text"}, with the server's CPU per request
 *   stages    what a request costs, form by form (/predict multipart JPEG and JSON base64, a
 *             tabular row, V2 binary UINT8 and V2 JSON, a cache hit, /health): req/s at
 *             concurrency 32, p50 at concurrency 1, and the server's CPU per request split into
 *             the runtime's own time and everything else; with --baseline DIR, that server too,
 *             alternating rounds
 *   baseline  with --baseline DIR: the server built in DIR (a checkout of another revision,
 *             run with its own defaults and bundled model) against this one at concurrency 32
 *             on ONNX Runtime, /predict multipart and V2 binary UINT8 pixels, --rounds times
 *             each, alternating which goes first (10-s runs on this VM vary by ±20 % even
 *             between two runs of the same code); the medians are compared
 *
 * service, naive and soak run with the cache off (CACHE_MAX_ENTRIES=0): they measure the model path,
 * each server after 3 s of unmeasured warm-up load. Every load run also probes /health and /ready,
 * and a trivial HTTP server in its own process: that reference is what probes can get from this
 * machine under the same load.
 */
import * as baseline from './phases/baseline.js';
import * as cache from './phases/cache.js';
import * as ceiling from './phases/ceiling.js';
import * as fleet from './phases/fleet.js';
import * as grpc from './phases/grpc.js';
import * as hosts from './phases/hosts.js';
import * as profile from './phases/profile.js';
import * as protocols from './phases/protocols.js';
import * as runtimes from './phases/runtimes.js';
import * as service from './phases/service.js';
import * as soak from './phases/soak.js';
import * as stages from './phases/stages.js';
import * as text from './phases/text.js';
import * as traffic from './phases/traffic.js';
import { report } from './report.js';

// Each phase saves its results as they complete and skips what --resume finds done.
for (const phase of [ceiling, service, runtimes, profile, baseline, stages, soak, cache, protocols, grpc, hosts, traffic, text, fleet]) await phase.run();
await report();
