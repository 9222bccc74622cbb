import underPressure from '@fastify/under-pressure';
import type { FastifyPluginAsync } from 'fastify';
import fp from 'fastify-plugin';
import type { Config } from '../../config.js';
import { ProblemError } from '../../http/problems.js';

/**
 * Load shedding for the routes of the (encapsulated) plugin that registers this, so that
 * /predict* answer 503 + Retry-After while the event loop lags or memory is past
 * its limit, while /health, /ready and /metrics keep answering.
 */
const shedding: FastifyPluginAsync<{ config: Config }> = async (app, { config }) => {
  await app.register(underPressure, {
    maxEventLoopDelay: config.MAX_EVENT_LOOP_DELAY_MS,
    maxHeapUsedBytes: config.MAX_HEAP_USED_BYTES,
    maxRssBytes: config.MAX_RSS_BYTES,
    // The delay is judged over a window as long as the limit it is held to (100 ms to 1 s).
    // Over a shorter window, one busy turn of the loop (a burst of requests read in one poll
    // phase) leaves under-pressure's histogram without a sample, which it reports as an
    // infinite delay, shedding load far below the limit.
    sampleInterval: Math.min(1000, Math.max(100, config.MAX_EVENT_LOOP_DELAY_MS)),
    exposeStatusRoute: false,
    // A rejected promise goes to the app's error handler: the documented problem shape.
    pressureHandler: async (_request, _reply, type, value) => {
      throw new ProblemError(503, 'under-pressure', `the server is overloaded (${type}: ${Math.round(Number(value))}); retry shortly`, { 'retry-after': '2' });
    },
  });
};

export default fp(shedding, { name: 'load-shedding' });
