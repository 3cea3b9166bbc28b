/**
 * `/healthz` (the store answers and a key can sign) and `/metrics` (Prometheus text format). Both stay
 * at the root when the issuer has a path: they are for the operator's balancer and scraper, which talk
 * to a node directly, not for OAuth clients. `/metrics` is on the main listener unless `metricsPort`
 * gives it a listener of its own (`serve.ts`); under `serve --workers N` it answers for every worker.
 */
import type { FastifyInstance } from 'fastify'
import type { ServerContext } from '../context.js'

const HEALTH_PATH = '/healthz'
const METRICS_PATH = '/metrics'

export function registerHealthEndpoint(app: FastifyInstance, ctx: ServerContext): void {
  app.get(HEALTH_PATH, async (request, reply) => {
    reply.header('cache-control', 'no-store').header('x-content-type-options', 'nosniff')
    const checks = { store: 'ok', signing_key: 'ok' }
    try {
      await ctx.store.ping()
    } catch (err) {
      request.log.warn({ err }, 'health check: store unavailable')
      checks.store = 'unavailable'
    }
    if (!ctx.keys.signer()) checks.signing_key = 'missing'
    const ok = checks.store === 'ok' && checks.signing_key === 'ok'
    return reply.code(ok ? 200 : 503).send({ status: ok ? 'ok' : 'unavailable', checks })
  })
}

export function registerMetricsEndpoint(app: FastifyInstance, ctx: ServerContext): void {
  app.get(METRICS_PATH, async (_request, reply) => {
    reply
      .header('cache-control', 'no-store')
      .header('x-content-type-options', 'nosniff')
      .type(ctx.metrics.registry.contentType)
    return ctx.metrics.cluster ? ctx.metrics.cluster() : ctx.metrics.registry.metrics()
  })
}
