/**
 * `/healthz` (the store answers and a key can sign) and `/metrics` (Prometheus text format).
 */
import type { FastifyInstance } from 'fastify'
import type { ServerContext } from '../context.js'

export const HEALTH_PATH = '/healthz'
export const METRICS_PATH = '/metrics'

export function registerHealthEndpoints(app: FastifyInstance, ctx: ServerContext): void {
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
  app.get(METRICS_PATH, async (_request, reply) => {
    reply
      .header('cache-control', 'no-store')
      .header('x-content-type-options', 'nosniff')
      .type(ctx.metrics.registry.contentType)
    return ctx.metrics.registry.metrics()
  })
}
