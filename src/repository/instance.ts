import type { Servable } from './types.js';

/** One loaded copy of a version's files, with the requests holding it. */
export class Instance<T extends Servable> {
  leases = 0;
  private retired = false;
  private disposed: Promise<void> | undefined;
  private readonly waiters: (() => void)[] = [];

  constructor(readonly value: T) {}

  /** Resolves once no request holds it and it is disposed. */
  retire(): Promise<void> {
    this.retired = true;
    const done = new Promise<void>((resolve) => this.waiters.push(resolve));
    this.check();
    return done;
  }

  release(): void {
    this.leases--;
    this.check();
  }

  private check(): void {
    if (!this.retired || this.leases > 0) return;
    this.disposed ??= this.value.dispose().catch(() => undefined);
    const waiters = this.waiters.splice(0);
    void this.disposed.then(() => waiters.forEach((w) => w()));
  }
}
