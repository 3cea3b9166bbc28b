/**
 * The wrk side of `load.ts`: a fixed request's load from one `wrk` process per node, wrk's summaries
 * as a run's counts, and the body checks sent around each wrk run (wrk itself does not read bodies).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Counts, LoadTarget, NodeShare } from './load.js'
import { fixedScript, runWrk, type WrkSummary } from './wrk.js'

/** Requests sent with fetch before and after each wrk run, to check their bodies. */
export const SPOT_CHECKS = 20

export interface WrkOutput {
  generator: 'wrk'
  url: string
  connections: number
  summary: WrkSummary
}

/** `seconds` of load on `target` by wrk, its request written into a Lua script of a temp folder. */
export async function runWrkOnce(
  target: LoadTarget,
  connections: number,
  seconds: number,
  onTick: (secondsLeft: number) => void,
): Promise<WrkOutput> {
  const folder = mkdtempSync(join(tmpdir(), 'latchkey-wrk-'))
  try {
    const script = join(folder, 'load.lua')
    writeFileSync(
      script,
      fixedScript({ method: 'POST', headers: target.headers, body: target.body }),
    )
    const summary = await runWrk(target.url, connections, seconds, script, onTick)
    return { generator: 'wrk', url: target.url, connections, summary }
  } finally {
    rmSync(folder, { recursive: true, force: true })
  }
}

/**
 * SPOT_CHECKS requests of each target's kind, one at a time, each body given to its `verifyBody`:
 * how many were refused or failed the check. Targets without a check count nothing.
 */
export async function spotCheck(targets: readonly LoadTarget[]): Promise<number> {
  let mismatches = 0
  for (const { url, headers, body, verifyBody } of targets) {
    if (!verifyBody) continue
    for (let i = 0; i < SPOT_CHECKS; i++) {
      const response = await fetch(url, {
        method: 'POST',
        headers,
        body,
        signal: AbortSignal.timeout(10_000),
      })
      const text = await response.text()
      if (!response.ok || !verifyBody(text)) mismatches++
    }
  }
  return mismatches
}

/**
 * wrk's summaries of its loads made at the same time (one per node) as the counts of a run: rates
 * and counts summed; each latency percentile (and the maximum) the largest of the nodes', the mean
 * weighted by their requests. wrk counts answers above 399 (`errors.status`), not each status:
 * `statusCodes` has two entries, `2xx/3xx` and `4xx/5xx`. `errors` includes timeouts, as autocannon's
 * does. Mismatches are not known here (the spot checks count them).
 */
export function summarizeWrk(outputs: readonly Omit<WrkOutput, 'generator'>[]): Counts {
  let requests = 0
  let requestsPerSecond = 0
  let duration = 0
  let non2xx = 0
  let errors = 0
  let timeouts = 0
  let weightedMean = 0
  const latency = { p50: 0, p90: 0, p99: 0, max: 0 }
  for (const { summary } of outputs) {
    const seconds = summary.durationMicros / 1e6
    const { connect, read, write, status, timeout } = summary.errors
    requests += summary.requests
    requestsPerSecond += seconds > 0 ? summary.requests / seconds : 0
    duration = Math.max(duration, seconds)
    non2xx += status
    errors += connect + read + write + timeout
    timeouts += timeout
    weightedMean += summary.latencyMicros.mean * summary.requests
    for (const key of ['p50', 'p90', 'p99', 'max'] as const)
      latency[key] = Math.max(latency[key], summary.latencyMicros[key])
  }
  const statusCodes: Record<string, number> = {}
  if (requests > non2xx) statusCodes['2xx/3xx'] = requests - non2xx
  if (non2xx > 0) statusCodes['4xx/5xx'] = non2xx
  const ms = (micros: number): number => Math.round(micros) / 1000
  const nodes =
    outputs.length > 1
      ? outputs.map(({ url, connections, summary }): NodeShare => ({
          url,
          connections,
          requestsPerSecond:
            summary.durationMicros > 0 ? summary.requests / (summary.durationMicros / 1e6) : 0,
          requests: summary.requests,
          latencyMs: { p50: ms(summary.latencyMicros.p50), p99: ms(summary.latencyMicros.p99) },
        }))
      : undefined
  return {
    requestsPerSecond,
    completedPerSecond: duration > 0 ? requests / duration : 0,
    requests,
    durationSeconds: duration,
    latencyMs: {
      p50: ms(latency.p50),
      p90: ms(latency.p90),
      p99: ms(latency.p99),
      mean: ms(requests > 0 ? weightedMean / requests : 0),
      max: ms(latency.max),
    },
    non2xx,
    errors,
    timeouts,
    mismatches: 0,
    statusCodes,
    ...(nodes ? { nodes } : {}),
  }
}
