/**
 * The autocannon side of `load.ts`: a load from autocannon in this process, whose hooks build each
 * request from the previous response where the case needs it, every body checked and every latency
 * recorded as it arrives; and its runs' results as a run's counts.
 */
import autocannon from 'autocannon'
import type { Counts, Length, LoadTarget, NodeShare } from './load.js'

export interface AutocannonOutput {
  generator: 'autocannon'
  url: string
  connections: number
  result: autocannon.Result
  latencies: Float64Array
}

const running = new Set<autocannon.Instance>()

/** Stops the autocannon runs in progress. */
export function stopAutocannon(): void {
  for (const instance of running) instance.stop()
}

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return 0
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))
  return sorted[index] ?? 0
}

const round = (ms: number): number => Math.round(ms * 1000) / 1000

/** `length` of load on `target`, with autocannon. */
export function runAutocannon(
  target: LoadTarget,
  connections: number,
  length: Length,
  onTick: (secondsLeft: number) => void,
): Promise<AutocannonOutput> {
  return new Promise((resolve, reject) => {
    let latencies = new Float64Array(1 << 16)
    let count = 0
    const options: autocannon.Options = {
      url: target.url,
      method: 'POST',
      headers: target.headers,
      body: target.body,
      connections,
      ...('amount' in length ? { amount: length.amount } : { duration: length.seconds }),
      pipelining: 1,
      timeout: 10,
    }
    if (target.verifyBody) {
      const verify = target.verifyBody
      options.verifyBody = (body) => typeof body === 'string' && verify(body)
    }
    if (target.dynamic) {
      const dynamic = target.dynamic
      options.requests = [
        {
          method: 'POST',
          headers: target.headers,
          body: target.body,
          setupRequest: (request) =>
            dynamic.headers === undefined
              ? { ...request, body: dynamic.next() }
              : {
                  ...request,
                  body: dynamic.next(),
                  headers: { ...request.headers, ...dynamic.headers() },
                },
          onResponse: (status, body) => dynamic.answered(status, body),
        },
      ]
    }
    const instance = autocannon(options, (error: unknown, result) => {
      running.delete(instance)
      if (error)
        reject(error instanceof Error ? error : new Error(`autocannon: ${JSON.stringify(error)}`))
      else
        resolve({
          generator: 'autocannon',
          url: target.url,
          connections,
          result,
          latencies: latencies.subarray(0, count),
        })
    })
    running.add(instance)
    let left = 'seconds' in length ? length.seconds : 0
    instance.on('tick', () => onTick(--left))
    instance.on('response', (_client, _status, _bytes, responseTime) => {
      if (count === latencies.length) {
        const bigger = new Float64Array(latencies.length * 2)
        bigger.set(latencies)
        latencies = bigger
      }
      latencies[count++] = responseTime
    })
  })
}

/**
 * Rates, latency percentiles and failure counts of autocannon runs made at the same time (one per
 * node): rates and counts are summed, percentiles taken over every response of all of them.
 */
export function summarizeAutocannon(outputs: readonly AutocannonOutput[]): Counts {
  let total = 0
  for (const output of outputs) total += output.latencies.length
  const merged = new Float64Array(total)
  let offset = 0
  for (const output of outputs) {
    merged.set(output.latencies, offset)
    offset += output.latencies.length
  }
  const sorted = merged.sort()
  let sum = 0
  for (const value of sorted) sum += value
  const statusCodes: Record<string, number> = {}
  let requestsPerSecond = 0
  let duration = 0
  let non2xx = 0
  let errors = 0
  let timeouts = 0
  let mismatches = 0
  for (const { result } of outputs) {
    for (const [code, stats] of Object.entries(result.statusCodeStats ?? {})) {
      statusCodes[code] = (statusCodes[code] ?? 0) + (stats.count ?? 0)
    }
    requestsPerSecond += result.requests.mean
    duration = Math.max(duration, result.duration)
    non2xx += result.non2xx
    errors += result.errors
    timeouts += result.timeouts
    mismatches += result.mismatches
  }
  const nodes =
    outputs.length > 1
      ? outputs.map(({ url, connections, result, latencies }): NodeShare => {
          const own = latencies.slice().sort()
          return {
            url,
            connections,
            requestsPerSecond: result.requests.mean,
            requests: own.length,
            latencyMs: { p50: round(percentile(own, 50)), p99: round(percentile(own, 99)) },
          }
        })
      : undefined
  return {
    requestsPerSecond,
    completedPerSecond: duration > 0 ? sorted.length / duration : 0,
    requests: sorted.length,
    durationSeconds: duration,
    latencyMs: {
      p50: round(percentile(sorted, 50)),
      p90: round(percentile(sorted, 90)),
      p99: round(percentile(sorted, 99)),
      mean: round(sorted.length > 0 ? sum / sorted.length : 0),
      max: round(sorted.length > 0 ? (sorted[sorted.length - 1] ?? 0) : 0),
    },
    non2xx,
    errors,
    timeouts,
    mismatches,
    statusCodes,
    ...(nodes ? { nodes } : {}),
  }
}
