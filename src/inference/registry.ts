/** Named models with one default, so more models and versions can be served side by side. */
import { ServedModel, type InstanceOptions, type ServedModelEvents } from './served-model.js';

export type RegistryState = 'loading' | 'ready' | 'failed';

export class ModelRegistry {
  private readonly models = new Map<string, ServedModel>();
  private loading: Promise<void> = Promise.resolve();
  state: RegistryState = 'loading';
  failure: string | undefined;
  defaultName: string | undefined;

  /** Load every directory (the first is the default) with its instances and scheduler. */
  load(dirs: readonly string[], opts: InstanceOptions, events: ServedModelEvents = {}): Promise<void> {
    this.state = 'loading';
    this.loading = (async () => {
      try {
        for (const dir of dirs) {
          const model = await ServedModel.load(dir, opts, events);
          this.add(model);
        }
        this.state = 'ready';
      } catch (err) {
        this.state = 'failed';
        this.failure = err instanceof Error ? err.message : String(err);
        throw err;
      }
    })();
    return this.loading;
  }

  /** Resolves once loading has finished, whatever its outcome. */
  async settled(): Promise<void> {
    await this.loading.catch(() => undefined);
  }

  add(model: ServedModel): void {
    void this.models.get(model.name)?.dispose();
    this.models.set(model.name, model);
    this.defaultName ??= model.name;
  }

  /** The named model, or the default one. */
  get(name?: string): ServedModel | undefined {
    const key = name ?? this.defaultName;
    return key === undefined ? undefined : this.models.get(key);
  }

  list(): ServedModel[] {
    return [...this.models.values()];
  }

  async dispose(): Promise<void> {
    await Promise.all([...this.models.values()].map((m) => m.dispose()));
    this.models.clear();
  }
}
