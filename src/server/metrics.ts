/**
 * Prometheus metrics: requests and their latency by route, tokens issued and revoked by kind, and the
 * process defaults (CPU, memory, event-loop lag). One registry per server instance.
 */
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client'

export interface Metrics {
  registry: Registry
  requests: Counter<'method' | 'route' | 'status'>
  latency: Histogram<'method' | 'route'>
  tokensIssued: Counter<'kind' | 'format'>
  tokensRevoked: Counter<'kind'>
}

export function createMetrics(): Metrics {
  const registry = new Registry()
  collectDefaultMetrics({ register: registry, prefix: 'latchkey_' })
  return {
    registry,
    requests: new Counter({
      name: 'latchkey_http_requests_total',
      help: 'HTTP requests by method, route and status code',
      labelNames: ['method', 'route', 'status'],
      registers: [registry],
    }),
    latency: new Histogram({
      name: 'latchkey_http_request_duration_seconds',
      help: 'HTTP request latency by method and route',
      labelNames: ['method', 'route'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    }),
    tokensIssued: new Counter({
      name: 'latchkey_tokens_issued_total',
      help: 'Tokens issued by kind (access_token, refresh_token) and format (jwt, opaque)',
      labelNames: ['kind', 'format'],
      registers: [registry],
    }),
    tokensRevoked: new Counter({
      name: 'latchkey_tokens_revoked_total',
      help: 'Revocations by kind (jti, token, sid, sub, client, kid)',
      labelNames: ['kind'],
      registers: [registry],
    }),
  }
}
