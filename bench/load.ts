/**
 * One load case: a warm-up run that is thrown away, then the measured runs. The server's RSS is
 * sampled during each measured run, and the CPU of the server, of its database processes, of the load
 * generator, of this process and of everything else on the machine is accounted for.
 *
 * Two load generators, chosen per case (`LoadSettings.generator`):
 *   - wrk (`wrk.ts`, `load_wrk.ts`), a child process, for every case whose request is always the
 *     same: it takes far less CPU than autocannon for the same rate, CPU the server under test keeps
 *     on a shared machine. Its latencies come from its own histogram (µs). It does not read the
 *     bodies, so `verifyBody` runs on SPOT_CHECKS requests of the same kind sent with fetch right
 *     before and right after each measured run (outside its timing); a false, or a non-2xx answer,
 *     counts as a mismatch. It tells only answers below 400 from the rest: a 3xx would pass the
 *     status count, not the spot checks. Its CPU is that of the wrk processes (reaped children of
 *     this process).
 *   - autocannon (`load_autocannon.ts`), in this process, for the cases whose next request is built
 *     from the previous response (`target.dynamic`: a rotating refresh token, a DPoP proof per
 *     request), and for every case when wrk is not installed or not chosen. Every response body is
 *     checked as it arrives; latencies are recorded from every response with microsecond resolution
 *     (autocannon's own histogram keeps whole milliseconds only). Its CPU is this process's.
 *
 * A system of several nodes has no balancer in front: the load is one load generator per node, all
 * running at once, the connections split evenly between them. The rate is their sum; CPU and RSS are
 * summed over the nodes. With autocannon the latency percentiles come from every response of every
 * node, merged; wrk's histograms cannot be merged from their percentiles, so each percentile is the
 * largest of the nodes' (an upper bound of the merged one, which lies between the nodes' smallest and
 * largest; the nodes take the same share of the load, so the bound is close).
 */
import { cpuSeconds, machineBusySeconds, reapedChildrenCpuSeconds, rssBytes } from './harness.js'
import {
  runAutocannon,
  stopAutocannon,
  summarizeAutocannon,
  type AutocannonOutput,
} from './load_autocannon.js'
import { runWrkOnce, spotCheck, summarizeWrk, type WrkOutput } from './load_wrk.js'
import type { Progress } from './progress.js'
import { stopWrk } from './wrk.js'

/**
 * `wrk`: wrk for the fixed requests, autocannon for the dynamic ones; `autocannon`: autocannon for
 * every case.
 */
export type LoadGenerator = 'wrk' | 'autocannon'

/**
 * A request body that changes on every request (a rotating refresh token): `next()` is asked for the
 * body of each request just before it is sent, `answered()` gets every response (in the order of the
 * connection's requests, before that connection's next `next()`).
 */
export interface DynamicBody {
  next(): string
  answered(status: number, body: string): void
  /** Headers of the next request besides the target's (a DPoP proof, made per request). */
  headers?(): Record<string, string>
}

export interface LoadTarget {
  /** Short id, used in the JSON and on the command line (`--only`). */
  id: string
  title: string
  url: string
  headers: Record<string, string>
  body: string
  /**
   * A cheap check of a response body; a `false` counts as a mismatch and fails the case. Run on every
   * response under autocannon, on SPOT_CHECKS before and after each run under wrk.
   */
  verifyBody?: (body: string) => boolean
  /** When set, `body` is only the first request's and every later body comes from here. */
  dynamic?: DynamicBody
}

/** What is watched while a case runs, besides the load itself. */
export interface Observed {
  /** The server processes, one per node: their CPU and RSS, summed. */
  serverPids: readonly number[]
  /**
   * Processes that work for the server (PostgreSQL backends of its database), asked after the
   * warm-up: their CPU is reported as the database's, not as other load.
   */
  companions?: () => Promise<number[]>
  /** The Redis server's process on this machine, when the system uses Redis: its CPU is Redis's. */
  redisPid?: number | null
}

export interface LoadSettings {
  connections: number
  warmupSeconds: number
  measureSeconds: number
  /** Measured runs after the one warm-up; the report takes the median. */
  runs: number
  generator: LoadGenerator
}

/** One node's part of a load split over several nodes. */
export interface NodeShare {
  url: string
  connections: number
  /** Mean of this node's autocannon per-second samples (wrk: its requests over its duration). */
  requestsPerSecond: number
  requests: number
  latencyMs: { p50: number; p99: number }
}

export interface LoadResult {
  /**
   * Mean of autocannon's per-second samples, as its own report prints it (wrk: completed requests over
   * its duration), summed over nodes.
   */
  requestsPerSecond: number
  /** Completed requests over the measured wall time, for comparison with the mean of samples. */
  completedPerSecond: number
  requests: number
  durationSeconds: number
  latencyMs: { p50: number; p90: number; p99: number; mean: number; max: number }
  non2xx: number
  errors: number
  timeouts: number
  mismatches: number
  statusCodes: Record<string, number>
  /** Server CPU (user+system) over the measured run, as a share of one core: 1.5 = 150%. */
  serverCpu: number | null
  /** CPU of the server's companion processes (database backends), share of one core; null: none. */
  databaseCpu: number | null
  /** CPU of the Redis server process, share of one core; null: no Redis (or not on this machine). */
  redisCpu: number | null
  /**
   * The largest resident set of the server process sampled during the run (every 100 ms); with
   * several nodes, the largest sum of their resident sets sampled at the same moment.
   */
  peakRssBytes: number | null
  /**
   * The load generator's CPU over the measured run, as a share of one core: the wrk processes', or
   * with autocannon this process's (null where /proc is missing, with wrk).
   */
  loadGeneratorCpu: number | null
  /** This process's CPU over the measured run, as a share of one core (with autocannon, the same). */
  harnessCpu: number
  /**
   * CPU used by everything else on the machine over the measured run, as a share of one core: other
   * load that competed with this run (null where /proc is missing).
   */
  otherCpu: number | null
  /** Each node's part, when the load was split over several nodes (absent with one). */
  nodes?: NodeShare[]
}

type RunOutput = AutocannonOutput | WrkOutput

/** `seconds` of load, or exactly `amount` requests. */
export type Length = { seconds: number } | { amount: number }

/** Stops the runs in progress (Ctrl-C). */
export function stopLoad(): void {
  stopAutocannon()
  stopWrk()
}

/** Whether `target` is loaded by wrk under `generator`: its request must never change. */
function byWrk(target: LoadTarget, generator: LoadGenerator): boolean {
  return generator === 'wrk' && target.dynamic === undefined
}

/** `length` of load on `target`, by wrk when `generator` allows it (wrk knows no request count). */
function runOnce(
  target: LoadTarget,
  connections: number,
  length: Length,
  generator: LoadGenerator,
  onTick: (secondsLeft: number) => void,
): Promise<RunOutput> {
  if (byWrk(target, generator) && 'seconds' in length)
    return runWrkOnce(target, connections, length.seconds, onTick)
  return runAutocannon(target, connections, length, onTick)
}

/** `connections` split as evenly as possible over `parts` loads (the first ones get one more). */
function splitConnections(connections: number, parts: number): number[] {
  if (connections < parts) {
    throw new Error(`${connections} connections cannot be split over ${parts} nodes`)
  }
  return Array.from(
    { length: parts },
    (_, i) => Math.floor(connections / parts) + (i < connections % parts ? 1 : 0),
  )
}

/**
 * `seconds` of load on every target at once (one target per node), `connections` split between
 * them; the first one drives the progress ticks.
 */
function runSplit(
  targets: readonly LoadTarget[],
  connections: number,
  seconds: number,
  generator: LoadGenerator,
  onTick: (secondsLeft: number) => void,
): Promise<RunOutput[]> {
  const split = splitConnections(connections, targets.length)
  return Promise.all(
    targets.map((target, i) =>
      runOnce(target, split[i] ?? 1, { seconds }, generator, i === 0 ? onTick : () => {}),
    ),
  )
}

/**
 * The warm-up, not counted: `settings.warmupSeconds` of load on `targets` (nothing when 0). With
 * several targets (one per node of a system), they are loaded at once, the connections split evenly.
 */
export async function warmUp(
  targets: readonly LoadTarget[],
  settings: LoadSettings,
  progress: Progress,
  label = 'warm-up',
): Promise<void> {
  const id = targets[0]?.id
  if (id === undefined) throw new Error('nothing to load')
  splitConnections(settings.connections, targets.length)
  if (settings.warmupSeconds <= 0) return
  progress.phase(`${id}: ${label}`, settings.warmupSeconds)
  await runSplit(targets, settings.connections, settings.warmupSeconds, settings.generator, (s) =>
    progress.tick(s),
  )
}

/**
 * One measured run of `settings.measureSeconds` on `targets`, the observed processes sampled for CPU
 * and RSS during it (`label`: what the progress line says).
 */
export async function measureRun(
  targets: readonly LoadTarget[],
  settings: LoadSettings,
  observed: Observed,
  progress: Progress,
  label: string,
): Promise<LoadResult> {
  const id = targets[0]?.id
  if (id === undefined) throw new Error('nothing to load')
  progress.phase(`${id}: ${label}`, settings.measureSeconds)
  const companions = (await observed.companions?.()) ?? []
  return measureOnce(targets, settings, observed, companions, progress)
}

/**
 * Warm-up (not counted), then `settings.runs` measured runs, back to back. With several targets
 * (one per node of a system), each run loads all of them at once, the connections split evenly.
 * The observed processes are sampled for CPU and RSS during each measured run. (Comparisons between
 * systems interleave these steps instead: `interleave.ts`.)
 */
export async function runLoad(
  targets: readonly LoadTarget[],
  settings: LoadSettings,
  observed: Observed,
  progress: Progress,
): Promise<LoadResult[]> {
  await warmUp(targets, settings, progress)
  const results: LoadResult[] = []
  for (let run = 1; run <= settings.runs; run++) {
    const label = settings.runs > 1 ? `measuring, run ${run}/${settings.runs}` : 'measuring'
    results.push(await measureRun(targets, settings, observed, progress, label))
  }
  progress.done()
  return results
}

/** The CPU seconds of each process in `pids` (its own, not its children's); absent when unreadable. */
function cpuOfEach(pids: number[]): Map<number, number> {
  const out = new Map<number, number>()
  for (const pid of pids) {
    const seconds = cpuSeconds(pid, false)
    if (seconds !== null) out.set(pid, seconds)
  }
  return out
}

/** The summed resident sets of `pids` now; null when one cannot be read. */
function summedRss(pids: readonly number[]): number | null {
  let total = 0
  for (const pid of pids) {
    const rss = rssBytes(pid)
    if (rss === null) return null
    total += rss
  }
  return total
}

/** The summed CPU seconds of `pids` and their workers; null when one cannot be read. */
function summedCpu(pids: readonly number[]): number | null {
  let total = 0
  for (const pid of pids) {
    const seconds = cpuSeconds(pid)
    if (seconds === null) return null
    total += seconds
  }
  return total
}

async function measureOnce(
  targets: readonly LoadTarget[],
  settings: LoadSettings,
  observed: Observed,
  companions: number[],
  progress: Progress,
): Promise<LoadResult> {
  const { serverPids } = observed
  const redisPid = observed.redisPid ?? null
  const wrk = targets.every((target) => byWrk(target, settings.generator))
  const checkedBefore = wrk ? await spotCheck(targets) : 0
  let peakRss = summedRss(serverPids)
  const sampler = setInterval(() => {
    const rss = summedRss(serverPids)
    if (rss !== null && (peakRss === null || rss > peakRss)) peakRss = rss
  }, 100)
  const companionsBefore = cpuOfEach(companions)
  const redisBefore = redisPid === null ? null : cpuSeconds(redisPid, false)
  const cpuBefore = summedCpu(serverPids)
  const machineBefore = machineBusySeconds()
  const ownBefore = process.cpuUsage()
  const childrenBefore = reapedChildrenCpuSeconds()
  const started = performance.now()
  let outputs: RunOutput[]
  try {
    outputs = await runSplit(
      targets,
      settings.connections,
      settings.measureSeconds,
      settings.generator,
      (s) => progress.tick(s),
    )
  } finally {
    clearInterval(sampler)
  }
  const wall = (performance.now() - started) / 1000
  const own = process.cpuUsage(ownBefore)
  const childrenAfter = reapedChildrenCpuSeconds()
  const cpuAfter = summedCpu(serverPids)
  const machineAfter = machineBusySeconds()
  const companionsAfter = cpuOfEach(companions)
  const redisAfter = redisPid === null ? null : cpuSeconds(redisPid, false)
  let databaseSeconds = 0
  for (const [pid, after] of companionsAfter)
    databaseSeconds += after - (companionsBefore.get(pid) ?? after)
  const databaseCpu = companions.length > 0 ? databaseSeconds / wall : null
  const redisCpu =
    redisBefore === null || redisAfter === null ? null : (redisAfter - redisBefore) / wall

  const serverCpu = cpuBefore === null || cpuAfter === null ? null : (cpuAfter - cpuBefore) / wall
  const harnessCpu = (own.user + own.system) / 1e6 / wall
  let loadGeneratorCpu: number | null = harnessCpu
  if (wrk)
    loadGeneratorCpu =
      childrenBefore === null || childrenAfter === null
        ? null
        : (childrenAfter - childrenBefore) / wall
  const counts = summarize(outputs)
  const checkedAfter = wrk ? await spotCheck(targets) : 0
  return {
    ...counts,
    mismatches: counts.mismatches + checkedBefore + checkedAfter,
    serverCpu,
    databaseCpu,
    redisCpu,
    peakRssBytes: peakRss,
    loadGeneratorCpu,
    harnessCpu,
    otherCpu:
      serverCpu === null ||
      loadGeneratorCpu === null ||
      machineBefore === null ||
      machineAfter === null
        ? null
        : Math.max(
            0,
            (machineAfter - machineBefore) / wall -
              serverCpu -
              (databaseCpu ?? 0) -
              (redisCpu ?? 0) -
              loadGeneratorCpu -
              (wrk ? harnessCpu : 0),
          ),
  }
}

/** What a load generator's runs tell, before the CPU and RSS accounting of `measureOnce`. */
export type Counts = Omit<
  LoadResult,
  | 'serverCpu'
  | 'databaseCpu'
  | 'redisCpu'
  | 'peakRssBytes'
  | 'loadGeneratorCpu'
  | 'harnessCpu'
  | 'otherCpu'
>

/** Rates, latency percentiles and failure counts of the runs made at the same time (one per node). */
function summarize(outputs: readonly RunOutput[]): Counts {
  const wrk = outputs.flatMap((o) => (o.generator === 'wrk' ? [o] : []))
  const autocannon = outputs.flatMap((o) => (o.generator === 'autocannon' ? [o] : []))
  if (wrk.length > 0 && autocannon.length > 0) throw new Error('one load, two load generators')
  return wrk.length > 0 ? summarizeWrk(wrk) : summarizeAutocannon(autocannon)
}

/**
 * Sends exactly `amount` requests (with wrk, which knows no request count: 1 s of requests) through
 * the same path as a measured run and returns why that load would be reported as failed (null when
 * it would count as clean): the negative control.
 */
export async function probe(
  target: LoadTarget,
  connections: number,
  amount: number,
  generator: LoadGenerator,
): Promise<{ failure: string | null; statusCodes: Record<string, number> }> {
  const length = byWrk(target, generator) ? { seconds: 1 } : { amount }
  const output = await runOnce(target, connections, length, generator, () => {})
  const counts = summarize([output])
  const failure = failureOf({
    ...counts,
    serverCpu: null,
    databaseCpu: null,
    redisCpu: null,
    peakRssBytes: null,
    loadGeneratorCpu: null,
    harnessCpu: 0,
    otherCpu: null,
  })
  return { failure, statusCodes: counts.statusCodes }
}

/** The run with the median rate (the lower middle one for an even count). */
export function medianRun(results: LoadResult[]): LoadResult {
  const sorted = [...results].sort((a, b) => a.requestsPerSecond - b.requestsPerSecond)
  const median = sorted[Math.floor((sorted.length - 1) / 2)]
  if (!median) throw new Error('no runs')
  return median
}

/** Why a case cannot be reported as a number, or null when it ran clean. */
export function failureOf(result: LoadResult): string | null {
  const problems: string[] = []
  if (result.non2xx > 0) {
    const codes = Object.entries(result.statusCodes)
      .filter(([code]) => !code.startsWith('2'))
      .map(([code, n]) => `${n}×${code}`)
      .join(', ')
    problems.push(`${result.non2xx} non-2xx (${codes})`)
  }
  if (result.errors > 0) problems.push(`${result.errors} errors (${result.timeouts} timeouts)`)
  if (result.mismatches > 0) problems.push(`${result.mismatches} unexpected bodies`)
  if (result.requests === 0) problems.push('no responses')
  return problems.length > 0 ? problems.join('; ') : null
}
