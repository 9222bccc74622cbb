/**
 * Validate custom resources against the OpenAPI v3 schema of their CustomResourceDefinition,
 * as the API server does, plus `kubectl --validate=strict`'s refusal of unknown fields (the
 * API server would silently prune them, so a misspelt field would be lost).
 */
import { readFileSync } from 'node:fs';
import { Ajv, type ValidateFunction } from 'ajv';
import { parse } from 'yaml';

type Schema = Record<string, unknown>;

interface Crd {
  spec: { group: string; names: { kind: string }; versions: { name: string; schema?: { openAPIV3Schema: Schema } }[] };
}

/** Every object schema with declared properties refuses others, unless it preserves unknown fields. */
function strict(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(strict);
  if (typeof schema !== 'object' || schema === null) return schema;
  const out: Schema = {};
  for (const [k, v] of Object.entries(schema)) out[k] = k === 'properties' ? Object.fromEntries(Object.entries(v as Schema).map(([p, s]) => [p, strict(s)])) : strict(v);
  if (out.properties && out.additionalProperties === undefined && out['x-kubernetes-preserve-unknown-fields'] !== true) out.additionalProperties = false;
  return out;
}

export class CrdValidator {
  private readonly validators = new Map<string, ValidateFunction>();

  /** Schemas of every version of the CRDs in these files, by `<group>/<version> <kind>`. */
  constructor(files: readonly string[]) {
    const ajv = new Ajv({ strict: false, allErrors: true, validateFormats: false });
    for (const file of files) {
      const crd = parse(readFileSync(file, 'utf8')) as Crd;
      for (const version of crd.spec.versions) {
        if (!version.schema) continue;
        this.validators.set(`${crd.spec.group}/${version.name} ${crd.spec.names.kind}`, ajv.compile(strict(version.schema.openAPIV3Schema) as Schema));
      }
    }
  }

  /** Whether a resource's apiVersion and kind are defined by these CRDs. */
  defines(apiVersion: string, kind: string): boolean {
    return this.validators.has(`${apiVersion} ${kind}`);
  }

  /** The problems with a resource (empty when it is valid). */
  validate(resource: { apiVersion: string; kind: string }): string[] {
    const validate = this.validators.get(`${resource.apiVersion} ${resource.kind}`);
    if (!validate) return [`no CRD defines ${resource.apiVersion} ${resource.kind}`];
    if (validate(resource)) return [];
    return (validate.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message ?? ''}${e.keyword === 'additionalProperties' ? ` '${String((e.params as { additionalProperty?: string }).additionalProperty)}'` : ''}`);
  }
}
