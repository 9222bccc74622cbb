import fp from 'fastify-plugin';

/** Process state that readiness depends on besides the models. */
export interface Lifecycle {
  /** Set at the first shutdown signal: /ready answers 503 from then on. */
  shuttingDown: boolean;
  /** Set once draining is over: every new request is refused with 503. */
  refusing: boolean;
}

declare module 'fastify' {
  interface FastifyInstance {
    lifecycle: Lifecycle;
  }
}

export default fp(
  async (app) => {
    app.decorate('lifecycle', { shuttingDown: false, refusing: false });
  },
  { name: 'lifecycle' },
);
