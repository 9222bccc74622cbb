/** Which methods the server answers on a path, so a request with another method gets 405 and Allow, not 404. */
export class RouteMethods {
  private readonly routes: { pattern: RegExp; method: string }[] = [];

  /** A registered route (Fastify's `onRoute`): its method(s) and URL pattern (`:param`, `*`). */
  add(method: string | string[], url: string): void {
    const source = url
      .split(/(:[A-Za-z0-9_]+|\*)/)
      .map((part) => (part === '*' ? '.*' : part.startsWith(':') ? '[^/]+' : part.replace(/[.+?^${}()|[\]\\]/g, '\\$&')))
      .join('');
    for (const m of Array.isArray(method) ? method : [method]) this.routes.push({ pattern: new RegExp(`^${source}$`), method: m.toUpperCase() });
  }

  /** The methods some route takes on `path`, in a stable order. */
  allowed(path: string): string[] {
    return [...new Set(this.routes.filter((r) => r.pattern.test(path)).map((r) => r.method))].sort();
  }
}
