/** Named models with one default, so more models and versions can be served side by side. */
import { ImageClassifier } from './classifier.js';

export type RegistryState = 'loading' | 'ready' | 'failed';

export class ModelRegistry {
  private readonly models = new Map<string, ImageClassifier>();
  private loading: Promise<void> = Promise.resolve();
  state: RegistryState = 'loading';
  failure: string | undefined;
  defaultName: string | undefined;

  /** Run `before` (backend set-up), then load every directory (the first is the default). */
  load(dirs: readonly string[], warmupRuns: number, before: () => Promise<void> = async () => {}): Promise<void> {
    this.state = 'loading';
    this.loading = (async () => {
      try {
        await before();
        for (const dir of dirs) {
          const model = await ImageClassifier.load(dir, warmupRuns);
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

  add(model: ImageClassifier): void {
    this.models.get(model.name)?.dispose();
    this.models.set(model.name, model);
    this.defaultName ??= model.name;
  }

  /** The named model, or the default one. */
  get(name?: string): ImageClassifier | undefined {
    const key = name ?? this.defaultName;
    return key === undefined ? undefined : this.models.get(key);
  }

  list(): ImageClassifier[] {
    return [...this.models.values()];
  }

  dispose(): void {
    for (const model of this.models.values()) model.dispose();
    this.models.clear();
  }
}
