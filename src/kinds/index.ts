/**
 * The one list of model kinds, and the registry that finds a version's kind by the `kind`
 * in its metadata.json. Nothing outside `src/kinds/` names a kind: it asks the registry.
 */
import type { OpenAPIV3 } from 'openapi-types';
import type { z } from 'zod';
import { imageClassifierKind } from './image/kind.js';
import type { AnswerSchema, BindContext, KindModel, ModelKind } from './kind.js';
import { readMetadataJson } from './metadata.js';
import { tabularKind } from './tabular/kind.js';
import { textClassifierKind } from './text/kind.js';

/** The kinds the server ships; the first is the kind of a metadata.json that names none. */
export const KINDS: readonly ModelKind[] = [imageClassifierKind as ModelKind, tabularKind as ModelKind, textClassifierKind as ModelKind];

export class KindRegistry {
  private readonly byName = new Map<string, ModelKind>();

  constructor(readonly kinds: readonly ModelKind[] = KINDS) {
    for (const kind of kinds) {
      for (const name of kind.names) {
        if (this.byName.has(name)) throw new Error(`two model kinds claim the name '${name}'`);
        this.byName.set(name, kind);
      }
    }
  }

  /** The built-in kinds and `extra` ones (a deployment's own, or a test's). */
  static with(extra: readonly ModelKind[] = []): KindRegistry {
    return new KindRegistry([...KINDS, ...extra]);
  }

  get names(): string[] {
    return [...this.byName.keys()];
  }

  /** Read `dir/metadata.json`, parse it by the kind it names, and bind the version. */
  async open(dir: string, context: BindContext): Promise<KindModel> {
    const raw = await readMetadataJson(dir);
    const name = (raw as { kind?: unknown } | null)?.kind ?? this.kinds[0]!.names[0]!;
    const kind = typeof name === 'string' ? this.byName.get(name) : undefined;
    if (!kind) throw new Error(`invalid metadata.json: unknown kind ${JSON.stringify(name)}; one of ${this.names.join(', ')}`);
    return await kind.bind(kind.parseMetadata(raw), context);
  }

  /** Every native answer form, once each (a union of them is what a prediction route answers). */
  answerSchemas(): AnswerSchema[] {
    return [...new Set(this.kinds.flatMap((k) => k.answerSchemas))];
  }

  explanationSchemas(): z.ZodType[] {
    return [...new Set(this.kinds.flatMap((k) => k.explanationSchemas))];
  }

  /** The request bodies of /predict and /predict/batch in the service's document: every kind's media types. */
  requestBodies(): Record<'predict' | 'batch', OpenAPIV3.RequestBodyObject> {
    const merged = { predict: { required: true, content: {} }, batch: { required: true, content: {} } } satisfies Record<string, OpenAPIV3.RequestBodyObject>;
    for (const kind of this.kinds) {
      const bodies = kind.requestBodies?.();
      if (!bodies) continue;
      for (const route of ['predict', 'batch'] as const) {
        const content = merged[route].content as Record<string, OpenAPIV3.MediaTypeObject>;
        for (const [type, media] of Object.entries(bodies[route].content)) {
          const known = content[type];
          // Two kinds with the same media type (JSON): either shape is accepted.
          if (known?.schema && media.schema && JSON.stringify(known.schema) !== JSON.stringify(media.schema)) {
            const shapes = 'anyOf' in known.schema && known.schema.anyOf && !('type' in known.schema) ? known.schema.anyOf : [known.schema];
            content[type] = { ...known, schema: { anyOf: [...shapes, media.schema] } };
          } else content[type] ??= media;
        }
      }
    }
    return merged;
  }
}
