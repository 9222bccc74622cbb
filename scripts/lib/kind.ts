/** A version folder's kind, bound as the server binds it (its signature and what it asks of the runtime). */
import { basename, dirname, resolve } from 'node:path';
import { loadConfig } from '../../src/config.js';
import { KindRegistry } from '../../src/kinds/index.js';
import type { KindModel } from '../../src/kinds/kind.js';
import { inputLimits } from '../../src/plugins/app/models.js';

export function openKind(dir: string): Promise<KindModel> {
  return new KindRegistry().open(dir, { name: basename(dirname(resolve(dir))), dir, limits: inputLimits(loadConfig({})) });
}
