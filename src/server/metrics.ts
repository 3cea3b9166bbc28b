/**
 * Prometheus metrics: requests and their latency by route, tokens issued and revoked by kind, and the
 * process defaults (CPU, memory, event-loop lag). One registry per server instance.
 *
 * Requests, latency and tokens issued are counted on every request, so they are kept in plain objects
 * (no label hashing per request) and read by the registry at scrape time, in the same exposition format
 * prom-client's own `Counter` and `Histogram` give.
 */
import { Counter, Histogram, Registry, collectDefaultMetrics, type Metric } from 'prom-client'
import type { AccessTokenFormat } from '../store/types.js'

export type TokenKind = 'access_token' | 'refresh_token'

export interface Metrics {
  registry: Registry
  /** `latchkey_http_requests_total` and `latchkey_http_request_duration_seconds`. */
  http: HttpMetrics
  /** `latchkey_tokens_issued_total`. */
  tokensIssued: IssuedTokens
  tokensRevoked: Counter<'kind'>
  /** Lookups through the Redis cache (`--redis`) by cache and outcome. */
  cacheLookups: Counter<'cache' | 'result'>
  /**
   * `latchkey_secret_hashes_total`: slow hashes run to check a presented credential, by kind
   * (`client_secret`: scrypt, `password`: argon2id), unknown clients' and users' decoys included.
   */
  secretHashes: Counter<'kind'>
  /** Back-channel logout tokens (OpenID Connect Back-Channel Logout 1.0) sent by this process. */
  backchannel: BackchannelMetrics
  /**
   * `latchkey_phantom_tokens_total`: answers of the phantom-token endpoint by result (`minted`: a new
   * JWT, `cached`: one minted before for the same opaque token, `refused`: a 401 to the caller,
   * `gateway_refused`: the gateway's own credentials or registration refused).
   */
  phantomTokens: Counter<'result'>
  /** `latchkey_audit_write_failures_total`: audit events that could not be stored. */
  auditWriteFailures: Counter
  /**
   * Under `serve --workers N`: the whole cluster's exposition (every worker's registry, aggregated by
   * the primary), which `/metrics` serves instead of this registry's alone.
   */
  cluster?: () => Promise<string>
}

/** What became of a logout token this node claimed (or, `dropped`, could not take on). */
export type BackchannelOutcome = 'delivered' | 'refused' | 'failed' | 'dropped'

/**
 * `latchkey_backchannel_logout_deliveries_total` by outcome, and
 * `latchkey_backchannel_logout_delay_seconds`: from the session's end to the receiver's 2xx.
 */
export class BackchannelMetrics {
  private readonly deliveries: Counter<'outcome'>
  private readonly delay: Histogram

  constructor(registry: Registry) {
    this.deliveries = new Counter({
      name: 'latchkey_backchannel_logout_deliveries_total',
      help: 'Back-channel logout tokens by outcome (delivered: 2xx; refused: another status but 5xx; failed: no 2xx after every try; dropped: queue full)',
      labelNames: ['outcome'],
      registers: [registry],
    })
    for (const outcome of ['delivered', 'refused', 'failed', 'dropped']) {
      this.deliveries.labels({ outcome }).inc(0)
    }
    this.delay = new Histogram({
      name: 'latchkey_backchannel_logout_delay_seconds',
      help: 'From the end of a session (its revocation, whole seconds) to the 2xx of its logout token',
      buckets: [0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120],
      registers: [registry],
    })
  }

  record(outcome: BackchannelOutcome): void {
    this.deliveries.labels({ outcome }).inc()
  }

  observeDelay(seconds: number): void {
    this.delay.observe(seconds)
  }
}

/** Upper bounds of the latency buckets, in seconds. */
const LATENCY_BUCKETS: readonly number[] = [
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5,
]

type Labels = Readonly<Record<string, string | number>>

/** One counter series: its labels, built once, and its count. */
interface CounterCell {
  labels: Labels
  count: number
}

/** One latency series (a method and route): per-bucket counts, not cumulative. */
interface RouteSeries {
  labels: Labels
  /** Request counts by status code. */
  statuses: Map<number, CounterCell>
  buckets: Float64Array
  sum: number
  count: number
}

interface MetricValue {
  value: number
  labels: Labels
  metricName?: string
  sharedLabels?: Labels
}

/** What a registry reads from a metric: the shape of prom-client's own metric objects. */
interface CollectedMetric {
  name: string
  help: string
  type: 'counter' | 'histogram'
  aggregator: 'sum'
  values: MetricValue[]
}

/**
 * A metric whose values are read at scrape time. Registered as prom-client's own are: the registry
 * only calls `get` (or `getForPromString`) and `reset`.
 */
interface ScrapedMetric {
  name: string
  help: string
  type: 'counter' | 'histogram'
  aggregator: 'sum'
  get(): Promise<CollectedMetric>
  getForPromString?(): Promise<CollectedMetric>
  reset(): void
}

function register(registry: Registry, metric: ScrapedMetric): void {
  // prom-client types `registerMetric` with its own classes; the registry needs only this shape.
  registry.registerMetric(metric as unknown as Metric)
}

function counterMetric(
  name: string,
  help: string,
  cells: () => readonly CounterCell[],
  reset: () => void,
): ScrapedMetric {
  const collect = (): Promise<CollectedMetric> =>
    Promise.resolve({
      name,
      help,
      type: 'counter',
      aggregator: 'sum',
      values: cells().map((c) => ({ value: c.count, labels: c.labels })),
    })
  return { name, help, type: 'counter', aggregator: 'sum', get: collect, reset }
}

/**
 * Requests by method, route and status, and their latency by method and route. `route` must be a
 * route pattern (bounded), never a raw URL.
 */
export class HttpMetrics {
  private byMethod = new Map<string, Map<string, RouteSeries>>()
  /** Both in first-seen order, as prom-client lists its series. */
  private series: RouteSeries[] = []
  private cells: CounterCell[] = []

  constructor(registry: Registry) {
    register(
      registry,
      counterMetric(
        'latchkey_http_requests_total',
        'HTTP requests by method, route and status code',
        () => this.cells,
        () => this.reset(),
      ),
    )
    const name = 'latchkey_http_request_duration_seconds'
    const help = 'HTTP request latency by method and route'
    register(registry, {
      name,
      help,
      type: 'histogram',
      aggregator: 'sum',
      // As prom-client's Histogram: `get` gives each line all its labels, `getForPromString` the
      // method and route as shared labels, written after `le`.
      get: () => Promise.resolve(this.latency(name, help, true)),
      getForPromString: () => Promise.resolve(this.latency(name, help, false)),
      reset: () => this.reset(),
    })
  }

  /** Counts one finished request that took `seconds`. */
  record(method: string, route: string, status: number, seconds: number): void {
    let routes = this.byMethod.get(method)
    if (routes === undefined) {
      routes = new Map()
      this.byMethod.set(method, routes)
    }
    let s = routes.get(route)
    if (s === undefined) {
      s = {
        labels: { method, route },
        statuses: new Map(),
        buckets: new Float64Array(LATENCY_BUCKETS.length),
        sum: 0,
        count: 0,
      }
      routes.set(route, s)
      this.series.push(s)
    }
    let cell = s.statuses.get(status)
    if (cell === undefined) {
      cell = { labels: { method, route, status }, count: 0 }
      s.statuses.set(status, cell)
      this.cells.push(cell)
    }
    cell.count++
    for (let i = 0; i < LATENCY_BUCKETS.length; i++) {
      if (seconds <= LATENCY_BUCKETS[i]!) {
        s.buckets[i]!++
        break
      }
    }
    s.sum += seconds
    s.count++
  }

  reset(): void {
    this.byMethod = new Map()
    this.series = []
    this.cells = []
  }

  private latency(name: string, help: string, splay: boolean): CollectedMetric {
    const values: MetricValue[] = []
    const line = (metricName: string, own: Labels, shared: Labels, value: number): void => {
      values.push(
        splay
          ? { metricName, labels: { ...own, ...shared }, value }
          : { metricName, labels: own, sharedLabels: shared, value },
      )
    }
    for (const s of this.series) {
      let cumulative = 0
      for (let i = 0; i < LATENCY_BUCKETS.length; i++) {
        cumulative += s.buckets[i]!
        line(`${name}_bucket`, { le: LATENCY_BUCKETS[i]! }, s.labels, cumulative)
      }
      line(`${name}_bucket`, { le: '+Inf' }, s.labels, s.count)
      line(`${name}_sum`, {}, s.labels, s.sum)
      line(`${name}_count`, {}, s.labels, s.count)
    }
    return { name, help, type: 'histogram', aggregator: 'sum', values }
  }
}

/** Tokens issued by kind and format: one cell per combination, created on first use. */
export class IssuedTokens {
  /** Indexed by kind × format. */
  private byIndex: (CounterCell | undefined)[] = [undefined, undefined, undefined, undefined]
  private cells: CounterCell[] = []

  constructor(registry: Registry) {
    register(
      registry,
      counterMetric(
        'latchkey_tokens_issued_total',
        'Tokens issued by kind (access_token, refresh_token) and format (jwt, opaque)',
        () => this.cells,
        () => this.reset(),
      ),
    )
  }

  /** Counts one issued token. */
  record(kind: TokenKind, format: AccessTokenFormat): void {
    const index = (kind === 'access_token' ? 0 : 2) + (format === 'jwt' ? 0 : 1)
    let cell = this.byIndex[index]
    if (cell === undefined) {
      cell = { labels: { kind, format }, count: 0 }
      this.byIndex[index] = cell
      this.cells.push(cell)
    }
    cell.count++
  }

  reset(): void {
    this.byIndex = [undefined, undefined, undefined, undefined]
    this.cells = []
  }
}

export function createMetrics(): Metrics {
  const registry = new Registry()
  collectDefaultMetrics({ register: registry, prefix: 'latchkey_' })
  const secretHashes = new Counter({
    name: 'latchkey_secret_hashes_total',
    help: 'Slow hashes run to check a presented credential, by kind (client_secret: scrypt, password: argon2id)',
    labelNames: ['kind'],
    registers: [registry],
  })
  // Both series from the start, at 0, so that a rate over them is defined before the first hash.
  for (const kind of ['client_secret', 'password']) secretHashes.labels({ kind }).inc(0)
  const phantomTokens = new Counter({
    name: 'latchkey_phantom_tokens_total',
    help: 'Phantom-token endpoint answers by result (minted, cached, refused, gateway_refused)',
    labelNames: ['result'],
    registers: [registry],
  })
  return {
    registry,
    http: new HttpMetrics(registry),
    tokensIssued: new IssuedTokens(registry),
    tokensRevoked: new Counter({
      name: 'latchkey_tokens_revoked_total',
      help: 'Revocations by kind (jti, token, sid, sub, client, kid)',
      labelNames: ['kind'],
      registers: [registry],
    }),
    cacheLookups: new Counter({
      name: 'latchkey_cache_lookups_total',
      help: 'Cache lookups by cache (memory: opaque tokens in this process; revocations: JWT revocation checks from this process; token, client, keys: Redis) and result (hit, miss, stale, error, bypass)',
      labelNames: ['cache', 'result'],
      registers: [registry],
    }),
    secretHashes,
    backchannel: new BackchannelMetrics(registry),
    phantomTokens,
    auditWriteFailures: new Counter({
      name: 'latchkey_audit_write_failures_total',
      help: 'Audit events that could not be stored (each is logged)',
      registers: [registry],
    }),
  }
}
