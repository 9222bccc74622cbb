/**
 * The gRPC port, declared alike everywhere the service is deployed: the image's GRPC_PORT is
 * exposed; Compose publishes it; the Kubernetes Deployment names it `grpc` and its Service
 * carries it as cleartext HTTP/2 (appProtocol kubernetes.io/h2c); the KServe ServingRuntime
 * serves grpc-v2 on its GRPC_PORT, and the gRPC InferenceService (deploy/kserve-grpc) routes
 * that port as h2c, with Kubernetes' gRPC readiness probe on it.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { kustomize } from './kustomize.js';

// Parsed YAML: each check reads the fields it names and reports what is missing.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Yaml = any;

const yaml = (root: string, ...path: string[]): Yaml => parse(readFileSync(join(root, ...path), 'utf8')) as Yaml;
const envOf = (container: Yaml): Record<string, string> => Object.fromEntries(((container?.env ?? []) as { name: string; value: string }[]).map((e) => [e.name, e.value]));

/** Every disagreement about the gRPC port, as sentences; none when all agree. */
export function grpcPortProblems(root: string): string[] {
  const problems: string[] = [];
  const expect = (ok: boolean, problem: string): void => {
    if (!ok) problems.push(problem);
  };

  const dockerfile = readFileSync(join(root, 'Dockerfile'), 'utf8');
  const port = Number(/GRPC_PORT=(\d+)/.exec(dockerfile)?.[1]);
  expect(Number.isInteger(port) && port > 0, 'Dockerfile: no GRPC_PORT=<port> in its ENV');
  const exposed = [...dockerfile.matchAll(/^EXPOSE\s+(.+)$/gm)].flatMap((m) => m[1]!.split(/\s+/).map((p) => Number(p.split('/')[0])));
  expect(exposed.includes(port), `Dockerfile: EXPOSE does not list the gRPC port ${port}`);

  const api = yaml(root, 'docker-compose.yml').services.api;
  expect(String(api.environment?.GRPC_PORT) === String(port), `docker-compose.yml: the api service's GRPC_PORT is not ${port}`);
  expect(((api.ports ?? []) as string[]).some((p) => String(p).endsWith(`:${port}`)), `docker-compose.yml: the api service does not publish the container's port ${port}`);

  const deployment = yaml(root, 'deploy', 'k8s', 'base', 'deployment.yaml');
  const configMap = yaml(root, 'deploy', 'k8s', 'base', 'configmap.yaml');
  const k8sPort = Number(configMap.data?.GRPC_PORT ?? port);
  const grpcPort = (deployment.spec.template.spec.containers[0].ports as Yaml[]).find((p) => p.name === 'grpc');
  expect(grpcPort?.containerPort === k8sPort, `deploy/k8s/base/deployment.yaml: no container port named grpc on ${k8sPort} (the ConfigMap's GRPC_PORT)`);
  const service = yaml(root, 'deploy', 'k8s', 'base', 'service.yaml');
  const servicePort = (service.spec.ports as Yaml[]).find((p) => p.targetPort === 'grpc');
  expect(servicePort?.appProtocol === 'kubernetes.io/h2c', 'deploy/k8s/base/service.yaml: no port to targetPort grpc with appProtocol kubernetes.io/h2c');

  const runtime = yaml(root, 'deploy', 'kserve', 'servingruntime.yaml');
  const runtimePort = Number(envOf(runtime.spec.containers[0]).GRPC_PORT);
  expect(Number.isInteger(runtimePort) && runtimePort > 0, 'deploy/kserve/servingruntime.yaml: the container sets no GRPC_PORT');
  expect((runtime.spec.protocolVersions as string[]).includes('grpc-v2'), 'deploy/kserve/servingruntime.yaml: protocolVersions lacks grpc-v2');
  const built = kustomize(join(root, 'deploy', 'kserve-grpc'));
  if ('error' in built) {
    problems.push(`deploy/kserve-grpc: ${built.error}`);
  } else {
    const isvc = built.objects.find((o) => o.kind === 'InferenceService') as Yaml;
    const model = isvc?.spec?.predictor?.model;
    expect(model?.protocolVersion === 'grpc-v2', 'deploy/kserve-grpc: the InferenceService does not ask for grpc-v2');
    expect(model?.ports?.length === 1 && model.ports[0].name === 'h2c' && model.ports[0].containerPort === runtimePort, `deploy/kserve-grpc: the InferenceService does not route the runtime's GRPC_PORT ${runtimePort} as its one port, named h2c`);
    expect(model?.readinessProbe?.grpc?.port === runtimePort, `deploy/kserve-grpc: readiness is not a gRPC probe of port ${runtimePort}`);
  }
  return problems;
}
