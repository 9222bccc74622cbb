/**
 * The deployment artifacts agree with each other and with the service: the schemas are
 * checked by `npm run validate:deploy`; these are the relations no schema knows.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { configSchema, loadConfig } from '../src/config.js';
import { CrdValidator } from '../scripts/lib/crd-schema.js';
import { checkKustomization, documentedKustomizations, kserveCrds, kustomize } from '../scripts/lib/kustomize.js';
import { grpcPortProblems } from '../scripts/lib/grpc-ports.js';
import { contextProblems, ignored, parseDockerignore } from '../scripts/lib/dockerignore.js';
import { ROOT } from './helpers/app.js';

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any -- parsed YAML, asserted below

const k8s = (file: string): Obj => parseAllDocuments(readFileSync(join(ROOT, 'deploy', 'k8s', 'base', file), 'utf8'))[0]!.toJS() as Obj;
const deployment = k8s('deployment.yaml');
const configMap = k8s('configmap.yaml');
const pod = deployment.spec.template.spec;
const container = pod.containers[0];
const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
const compose = parse(readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8')) as Obj;
const seconds = (duration: string): number => Number(/^(\d+)s$/.exec(duration)?.[1] ?? NaN);

describe('Kubernetes manifests', () => {
  it('the ConfigMap holds valid settings of this service, and needs nothing else in the cluster', () => {
    const config = loadConfig(configMap.data);
    expect(config.INFERENCE_WORKERS).toBeLessThanOrEqual(Number(container.resources.limits.cpu));
    expect(config.REDIS_URL).toBeUndefined();
  });

  it('the Redis overlay ships the Redis its REDIS_URL names', () => {
    const built = kustomize(join(ROOT, 'deploy', 'k8s', 'redis'));
    if ('error' in built) throw new Error(built.error);
    const objects = built.objects as Obj[];
    const config = loadConfig(objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name === 'ml-inference-api')!.data);
    const url = new URL(config.REDIS_URL!);
    const service = objects.find((o) => o.kind === 'Service' && o.metadata.name === url.hostname)!;
    expect(service.spec.ports[0].port).toBe(Number(url.port));
    const redis = objects.find((o) => o.kind === 'Deployment' && o.metadata.name === url.hostname)!;
    expect(redis.spec.template.metadata.labels).toMatchObject(service.spec.selector);
  });

  it('serves the repository baked into the image, with its download cache on the writable /tmp', () => {
    const config = loadConfig(configMap.data);
    expect(config.MODEL_REPOSITORY).toBe('/app/models');
    expect(config.MODEL_CACHE_DIR.startsWith('/tmp/')).toBe(true);
    expect(existsSync(join(ROOT, 'models', config.DEFAULT_MODEL, '1', 'metadata.json'))).toBe(true);
  });

  it('the S3 overlay points every replica at an s3:// repository, credentials from an optional Secret', () => {
    const overlay = parseAllDocuments(readFileSync(join(ROOT, 'deploy', 'k8s', 's3', 'configmap-s3.yaml'), 'utf8'))[0]!.toJS() as Obj;
    const { AWS_REGION: _region, ...settings } = overlay.data as Record<string, string>;
    const config = loadConfig({ ...configMap.data, ...settings });
    expect(config.MODEL_REPOSITORY).toMatch(/^s3:\/\/[a-z0-9.-]+\/.+/);
    expect(config.S3_FORCE_PATH_STYLE).toBe(true);
    expect(container.envFrom).toContainEqual({ secretRef: { name: 'ml-inference-api-s3', optional: true } });
  });

  it('gives shutdown enough time: grace period ≥ preStop delay + SHUTDOWN_TIMEOUT_MS', () => {
    const preStop = Number(container.lifecycle.preStop.exec.command[1]);
    const shutdown = loadConfig(configMap.data).SHUTDOWN_TIMEOUT_MS / 1000;
    expect(preStop).toBeGreaterThan(0);
    expect(pod.terminationGracePeriodSeconds).toBeGreaterThanOrEqual(preStop + shutdown);
  });

  it('probes liveness on /health and readiness on /ready of the container port', () => {
    expect(container.livenessProbe.httpGet.path).toBe('/health');
    expect(container.startupProbe.httpGet.path).toBe('/health');
    expect(container.readinessProbe.httpGet.path).toBe('/ready');
    const port = container.ports.find((p: Obj) => p.name === container.readinessProbe.httpGet.port);
    expect(port.containerPort).toBe(Number(/PORT=(\d+)/.exec(dockerfile)![1]));
  });

  it('runs as a non-root user with a read-only root filesystem and a writable /tmp', () => {
    expect(pod.securityContext.runAsNonRoot).toBe(true);
    expect(container.securityContext).toMatchObject({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } });
    expect(container.volumeMounts).toContainEqual(expect.objectContaining({ mountPath: '/tmp' }));
  });

  it('the Service, PodDisruptionBudget and autoscaler point at the Deployment and its pods', () => {
    const labels = deployment.spec.template.metadata.labels;
    for (const selector of [deployment.spec.selector.matchLabels, k8s('service.yaml').spec.selector, k8s('pdb.yaml').spec.selector.matchLabels]) {
      expect(labels).toMatchObject(selector);
    }
    expect(k8s('service.yaml').spec.ports[0].targetPort).toBe('http');
    expect(k8s('hpa.yaml').spec.scaleTargetRef).toEqual({ apiVersion: 'apps/v1', kind: 'Deployment', name: deployment.metadata.name });
    expect(container.resources.requests.cpu).toBeDefined(); // the autoscaler's utilisation needs requests
  });
});

describe('kustomizations', () => {
  it('every one the docs apply builds and renders valid objects, each with the image of the one setting', async () => {
    const documented = documentedKustomizations(ROOT);
    expect(documented).toEqual(expect.arrayContaining(['deploy/k8s/base', 'deploy/k8s/redis', 'deploy/k8s/s3', 'deploy/kserve']));
    const crds = kserveCrds(ROOT);
    for (const dir of documented) {
      expect(await checkKustomization(join(ROOT, dir), crds), dir).toEqual({ objects: expect.any(Number), problems: [] });
      const built = kustomize(join(ROOT, dir));
      const images = JSON.stringify('objects' in built ? built.objects : []).match(/"image":"[^"]+"/g) ?? [];
      expect(images.filter((i) => i.includes('ml-inference-api')), dir).toEqual(expect.arrayContaining(['"image":"ml-inference-api:0.1.0"']));
    }
  });

  it('refuses an overlay that sits inside its own base (the cycle kubectl apply -k reports)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kustomize-cycle-'));
    try {
      mkdirSync(join(dir, 's3'));
      writeFileSync(join(dir, 'configmap.yaml'), 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\ndata:\n  A: "1"\n');
      writeFileSync(join(dir, 'kustomization.yaml'), 'resources:\n  - configmap.yaml\n');
      writeFileSync(join(dir, 's3', 'kustomization.yaml'), 'resources:\n  - ../\n');
      const { problems } = await checkKustomization(join(dir, 's3'), kserveCrds(ROOT));
      expect(problems.join()).toMatch(/cycle detected/);
      // The same files laid out as base and overlay side by side build.
      mkdirSync(join(dir, 'base'));
      renameSync(join(dir, 'configmap.yaml'), join(dir, 'base', 'configmap.yaml'));
      renameSync(join(dir, 'kustomization.yaml'), join(dir, 'base', 'kustomization.yaml'));
      writeFileSync(join(dir, 's3', 'kustomization.yaml'), 'resources:\n  - ../base\n');
      expect(await checkKustomization(join(dir, 's3'), kserveCrds(ROOT))).toEqual({ objects: 1, problems: [] });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('Dockerfile', () => {
  it('pins its base image, runs as non-root under tini, and checks /health', () => {
    expect(dockerfile).toMatch(/^ARG NODE_IMAGE=node:\d+\.\d+\.\d+-[a-z]+-slim$/m);
    expect(dockerfile).not.toMatch(/:latest\b/);
    expect(dockerfile).toMatch(/^USER node$/m);
    expect(dockerfile).toMatch(/^ENTRYPOINT \["\/usr\/bin\/tini", "--"\]$/m);
    expect(dockerfile).toMatch(/^HEALTHCHECK .*\n.*\/health/m);
    expect(dockerfile).toMatch(/MODEL_REPOSITORY=\/app\/models /);
    expect(dockerfile).toMatch(/^COPY models \.\/models$/m);
  });
});

describe('the build context (.dockerignore against what the Dockerfile copies)', () => {
  const files = ['package.json', 'scripts/build-if-stale.mjs', 'scripts/image/prune-modules.mjs', 'scripts/bench/main.ts', 'src/server.ts', 'models/iris/1/model.onnx'];
  const copying = (...sources: string[]): string => `FROM node:24.11.1-bookworm-slim AS build\n${sources.map((s) => `COPY ${s} ./${s}`).join('\n')}\nCOPY --from=build /app/dist ./dist\n`;

  it('refuses a Dockerfile that copies a path .dockerignore leaves out, as the last release did', () => {
    // The files of the release whose build stopped at `COPY scripts/build-if-stale.mjs`.
    const problems = contextProblems(copying('package.json', 'scripts/build-if-stale.mjs', 'src'), 'node_modules\ndist\ntests\nscripts\n', files);
    expect(problems).toEqual(['Dockerfile line 3: COPY scripts/build-if-stale.mjs: .dockerignore leaves it out of the build context, so every build stops here']);
  });

  it('refuses a source that does not exist, and a folder of which nothing is left', () => {
    expect(contextProblems(copying('public', 'models'), 'models/**/*.onnx\n', files)).toEqual([
      'Dockerfile line 2: COPY public: no such path in the build context',
      'Dockerfile line 3: COPY models: .dockerignore leaves it out of the build context, so every build stops here',
    ]);
  });

  it("follows Docker's rules: exceptions, the last match winning, a folder above, ** and globs", () => {
    const patterns = parseDockerignore('# comment\nscripts\n!scripts/build-if-stale.mjs\n/models/**/*.bin\n*.log\n!keep.log\n');
    expect(ignored(patterns, 'scripts/bench/main.ts')).toBe(true);
    expect(ignored(patterns, 'scripts/build-if-stale.mjs')).toBe(false);
    expect(ignored(patterns, 'models/cifar10/1/group1-shard1of1.bin')).toBe(true);
    expect(ignored(patterns, 'models/cifar10/1/model.onnx')).toBe(false);
    expect(ignored(patterns, 'server.log')).toBe(true);
    expect(ignored(patterns, 'keep.log')).toBe(false);
    expect(ignored(patterns, 'logs/server.log')).toBe(false);
  });

  it("holds for this repository's Dockerfile and .dockerignore", () => {
    const tracked = spawnSync('git', ['ls-files', '-z'], { cwd: ROOT, encoding: 'utf8' }).stdout.split('\0').filter(Boolean);
    expect(contextProblems(dockerfile, readFileSync(join(ROOT, '.dockerignore'), 'utf8'), tracked)).toEqual([]);
  });
});

describe('docker-compose.yml', () => {
  it('needs no .env: every setting is passed through from the environment, empty meaning the default', () => {
    const { api } = compose.services;
    expect(api.env_file).toBeUndefined();
    const passed = Object.keys(api.environment as Record<string, string>);
    for (const key of Object.keys(configSchema.shape)) expect(passed, key).toContain(key);
    expect(api.environment.MODEL_POLL_INTERVAL_S).toBe('${MODEL_POLL_INTERVAL_S:-}');
    expect(api.environment.MODEL_REPOSITORY).toBe('${MODEL_REPOSITORY:-/app/models}');
  });

  it('runs the service with Redis as its shared cache, healthchecks and a restart policy', () => {
    const { api, redis } = compose.services;
    expect(api.environment.REDIS_URL).toBe('redis://redis:6379/0');
    expect(api.depends_on.redis.condition).toBe('service_healthy');
    expect(api.restart).toBe('unless-stopped');
    expect(redis.healthcheck.test).toContain('ping');
    expect(api.healthcheck.test.join(' ')).toContain('/ready');
    expect(seconds(api.stop_grace_period)).toBeGreaterThan(loadConfig({}).SHUTDOWN_TIMEOUT_MS / 1000);
  });
});

describe('docker-compose.yml, profile fleet', () => {
  it('runs replicas of the service behind nginx, sharing the Redis and an S3-compatible store that the bundled models are published to', () => {
    const { 'fleet-replica': replica, 'fleet-balancer': balancer, 'fleet-publish': publish, 'fleet-store': store } = compose.services;
    for (const s of [replica, balancer, publish, store]) expect(s.profiles).toEqual(['fleet']);
    const env = replica.environment as Record<string, string>;
    for (const key of Object.keys(env).filter((k) => !k.startsWith('AWS_'))) expect(Object.keys(configSchema.shape), key).toContain(key);
    expect(env.REDIS_URL).toBe(compose.services.api.environment.REDIS_URL);
    expect(env.MODEL_REPOSITORY).toBe('s3://models/fleet');
    expect(publish.entrypoint.join(' ')).toContain('store/models/fleet');
    expect(env.S3_ENDPOINT).toBe('http://fleet-store:9000');
    expect(replica.depends_on['fleet-publish'].condition).toBe('service_completed_successfully');
    // The balancer's upstream is the replicas' service name and port.
    const mount = (balancer.volumes as string[]).find((v) => v.endsWith('/etc/nginx/conf.d/default.conf:ro'))!;
    const conf = readFileSync(join(ROOT, mount.split(':')[0]!), 'utf8');
    expect(conf).toMatch(new RegExp(`server fleet-replica:${env.PORT}\\b`));
    expect(conf).toMatch(new RegExp(`listen ${(balancer.ports as string[])[0]!.split(':').at(-1)};`));
  });
});

describe('KServe (deploy/kserve)', () => {
  const kserve = (file: string): Obj => parse(readFileSync(join(ROOT, 'deploy', 'kserve', file), 'utf8')) as Obj;
  const runtime = kserve('servingruntime.yaml');
  const isvc = kserve('inferenceservice.yaml');
  const crds = new CrdValidator(['serving.kserve.io_servingruntimes.yaml', 'serving.kserve.io_inferenceservices.yaml'].map((f) => join(ROOT, 'specs', 'kserve-crds', f)));
  const runtimeContainer = runtime.spec.containers[0];
  const env = Object.fromEntries((runtimeContainer.env as { name: string; value: string }[]).map((e) => [e.name, e.value]));

  it('the ServingRuntime speaks v2 on the port its settings give, probed on the protocol health routes', () => {
    expect(runtime.spec.protocolVersions).toEqual(['v2', 'grpc-v2']);
    expect(runtimeContainer.name).toBe('kserve-container');
    const config = loadConfig({ ...env, ...Object.fromEntries((isvc.spec.predictor.model.env as { name: string; value: string }[]).map((e) => [e.name, e.value])) });
    expect(runtimeContainer.ports[0].containerPort).toBe(config.PORT);
    // Node.js sees the node's CPUs: the hosts are sized to the container's limit explicitly.
    expect(config.INFERENCE_WORKERS).toBeLessThanOrEqual(Number(runtimeContainer.resources.limits.cpu));
    expect(env.INFERENCE_WORKERS).toBeDefined();
    expect(config.MODEL_REPOSITORY).toBe('/mnt/models');
    expect(config.MODEL_CACHE_DIR.startsWith('/tmp/')).toBe(true);
    expect(runtimeContainer.readinessProbe.httpGet).toEqual({ path: '/v2/health/ready', port: config.PORT });
    expect(runtimeContainer.livenessProbe.httpGet).toEqual({ path: '/v2/health/live', port: config.PORT });
    // The image is set by the kustomization's one `images` setting.
    expect(runtimeContainer.image).toBe('ml-inference-api');
  });

  it('gives the read-only root filesystem a writable /tmp, where MODEL_CACHE_DIR is', () => {
    expect(runtimeContainer.securityContext.readOnlyRootFilesystem).toBe(true);
    const mount = (runtimeContainer.volumeMounts as Obj[]).find((m) => m.mountPath === '/tmp')!;
    expect(runtime.spec.volumes).toContainEqual({ name: mount.name, emptyDir: {} });
    expect(env.MODEL_CACHE_DIR!.startsWith('/tmp/')).toBe(true);
  });

  it('the InferenceService uses that runtime, over v2, with a model repository in S3', () => {
    const { model, serviceAccountName } = isvc.spec.predictor;
    expect(model.runtime).toBe(runtime.metadata.name);
    expect(model.protocolVersion).toBe('v2');
    expect(runtime.spec.supportedModelFormats.map((f: Obj) => f.name)).toContain(model.modelFormat.name);
    expect(model.storageUri).toMatch(/^s3:\/\/[a-z0-9.-]+\//);
    expect(kserve('serviceaccount.yaml').metadata.name).toBe(serviceAccountName);
  });

  it('the CRD validation refuses what the API server would refuse or silently drop', () => {
    expect(crds.validate(runtime as { apiVersion: string; kind: string })).toEqual([]);
    expect(crds.validate(isvc as { apiVersion: string; kind: string })).toEqual([]);
    const misspelt = structuredClone(isvc);
    misspelt.spec.predictor.model.storageURI = misspelt.spec.predictor.model.storageUri;
    expect(crds.validate(misspelt as { apiVersion: string; kind: string }).join()).toMatch(/additional properties 'storageURI'/);
    const wrongType = structuredClone(runtime);
    wrongType.spec.containers[0].ports[0].containerPort = 'eighty';
    expect(crds.validate(wrongType as { apiVersion: string; kind: string }).join()).toMatch(/containerPort must be integer/);
    expect(crds.validate({ apiVersion: 'serving.kserve.io/v1beta1', kind: 'ServingRuntime' })).toEqual(['no CRD defines serving.kserve.io/v1beta1 ServingRuntime']);
  });
});

describe('the gRPC port', () => {
  it('is declared alike everywhere: image, Compose, Kubernetes Deployment and Service (h2c), KServe runtime and gRPC InferenceService', () => {
    expect(grpcPortProblems(ROOT)).toEqual([]);
    const port = loadConfig({}).GRPC_PORT;
    expect(dockerfile).toMatch(new RegExp(`GRPC_PORT=${port}\\b`));
    expect(compose.services.api.ports).toContain(`\${GRPC_PORT:-${port}}:${port}`);
    expect(k8s('service.yaml').spec.ports).toContainEqual({ name: 'grpc', port, targetPort: 'grpc', protocol: 'TCP', appProtocol: 'kubernetes.io/h2c' });
  }, 60_000);

  it('validate:deploy names each disagreement', () => {
    const dir = mkdtempSync(join(tmpdir(), 'grpc-ports-'));
    try {
      for (const f of ['Dockerfile', 'docker-compose.yml', 'deploy']) cpSync(join(ROOT, f), join(dir, f), { recursive: true });
      writeFileSync(join(dir, 'Dockerfile'), dockerfile.replace('EXPOSE 8000 8081', 'EXPOSE 8000'));
      const service = join(dir, 'deploy', 'k8s', 'base', 'service.yaml');
      writeFileSync(service, readFileSync(service, 'utf8').replace('appProtocol: kubernetes.io/h2c', 'appProtocol: http'));
      const overlay = join(dir, 'deploy', 'kserve-grpc', 'kustomization.yaml');
      writeFileSync(overlay, readFileSync(overlay, 'utf8').replace('name: h2c', 'name: grpc'));
      expect(grpcPortProblems(dir)).toEqual([
        'Dockerfile: EXPOSE does not list the gRPC port 8081',
        'deploy/k8s/base/service.yaml: no port to targetPort grpc with appProtocol kubernetes.io/h2c',
        "deploy/kserve-grpc: the InferenceService does not route the runtime's GRPC_PORT 8081 as its one port, named h2c",
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
