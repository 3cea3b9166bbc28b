/**
 * The primary of `latchkey serve --workers N` (node:cluster). It does the one-time work of a start
 * (store, migrations, first signing keys: `prepareStore`) before forking, so that workers never race
 * over it; then forks N workers, each running the whole server (`startServer`) on the same port(s),
 * which cluster shares (round-robin on Linux; a port of 0 is the same "random" one for every worker).
 *
 * It serves nothing itself. It relays what workers tell their siblings (revocation wake-ups, failure
 * throttles: `link.ts`), answers `/metrics` scrapes with every worker's registry aggregated
 * (prom-client's `AggregatorRegistry.aggregate`, each metric by its `aggregator`), replaces a worker
 * that dies (with a growing delay), gives up when workers keep failing to start, and on `close()`
 * asks every worker to close gracefully and waits for all of them.
 */
import cluster, { type Worker } from 'node:cluster'
import { fileURLToPath } from 'node:url'
import type { Logger } from 'pino'
import {
  AggregatorRegistry,
  Counter,
  Gauge,
  Registry,
  type MetricObjectWithValues,
  type MetricValue,
} from 'prom-client'
import type { ServeConfig } from '../../config.js'
import { prepareStore } from '../serve.js'
import { isOurs, type ToPrimary, type ToWorker } from './messages.js'

/** Starts in a row that failed before the cluster gives up (a bad configuration, a port taken). */
const MAX_START_FAILURES = 5
/** Delay before replacing a dead worker: doubled per recent death, up to the maximum. */
const RESTART_BASE_MS = 100
const RESTART_MAX_MS = 10_000
/** Deaths further apart than this do not add to the delay. */
const RESTART_MEMORY_MS = 60_000
/**
 * libuv's thread pool of each worker unless the operator sets `UV_THREADPOOL_SIZE`: one thread for
 * the hash gate (`tokens/hashing.ts` keeps hashes to half the pool) and one for signing. With a
 * worker per core, libuv's default of 4 starts four pool threads per core, and their hand-offs and
 * switches cost more than they give: JWT issuance with 2 workers on 2 cores, interleaved rounds,
 * 14,648 tokens/s with 2 threads each against 11,865 with 4. One thread served more still (17,826),
 * but a password hash would then hold up every signature of its worker.
 */
export const WORKER_THREAD_POOL_SIZE = 2

/** How long the primary waits for every worker's metrics before aggregating those it has. */
const COLLECT_TIMEOUT_MS = 2000

/** One metric of a worker's registry, as `getMetricsAsJSON` gives it. */
type MetricJSON = MetricObjectWithValues<MetricValue<string>>

/** A start that failed: its message is the line the CLI prints, as is. */
export class WorkersStartError extends Error {
  override readonly name = 'WorkersStartError'
}

export interface RunningWorkers {
  /** The main listener's URL, as the first worker reports it. */
  url: string
  /** The metrics listener's URL (`metricsPort`), as the first worker reports it. */
  metricsUrl: string | undefined
  /** Where the web console is served, when it is. */
  consoleUrl: string | undefined
  /** Resolves with the reason when the cluster gives up (workers keep failing to start). */
  failed: Promise<WorkersStartError>
  /**
   * Asks every worker to close (stop accepting, finish in-flight requests, close the store) and
   * resolves once all have exited; rejects if one did not exit cleanly.
   */
  close(): Promise<void>
}

interface Slot {
  number: number
  worker: Worker | undefined
  listening: boolean
}

/** Prepares the store, forks `config.workers` workers and resolves once every one listens. */
export async function startWorkers(config: ServeConfig, logger: Logger): Promise<RunningWorkers> {
  await prepareStore(config, logger)
  cluster.setupPrimary({
    exec: fileURLToPath(new URL('../../cli/serve_worker.js', import.meta.url)),
    args: [],
  })
  const slots: Slot[] = Array.from({ length: config.workers }, (_, i) => ({
    number: i + 1,
    worker: undefined,
    listening: false,
  }))
  let closing = false
  let startFailures = 0
  let lastStartError = ''
  const deaths: number[] = []
  let giveUp: (err: WorkersStartError) => void = () => {}
  const failed = new Promise<WorkersStartError>((resolve) => (giveUp = resolve))
  let first: Extract<ToPrimary, { lk: 'listening' }> | undefined
  let allListening: () => void = () => {}
  const started = new Promise<void>((resolve) => (allListening = resolve))

  // Scrapes under way: the workers still to answer, and the metrics gathered so far.
  const collections = new Map<
    number,
    { waiting: Set<Worker>; gathered: MetricJSON[][]; done: () => void }
  >()
  let nextCollection = 1

  const live = (): Worker[] =>
    slots.flatMap((s) => (s.worker !== undefined && s.listening ? [s.worker] : []))
  const send = (worker: Worker, message: ToWorker): void => {
    if (worker.isConnected()) worker.send(message, undefined, () => {})
  }

  // The primary's own series, added to every scrape: how many workers listen, how many were replaced.
  const own = new Registry()
  new Gauge({
    name: 'latchkey_workers',
    help: 'Worker processes listening (latchkey serve --workers)',
    registers: [own],
    collect() {
      this.set(live().length)
    },
  })
  const restarts = new Counter({
    name: 'latchkey_worker_restarts_total',
    help: 'Workers that exited unexpectedly and were replaced',
    registers: [own],
  })

  const scrape = (asker: Worker, id: number): void => {
    const workers = live()
    const collection = nextCollection++
    const gathered: MetricJSON[][] = []
    const waiting = new Set(workers)
    const done = (): void => {
      if (!collections.delete(collection)) return
      clearTimeout(timer)
      own
        .getMetricsAsJSON()
        .then((mine) => AggregatorRegistry.aggregate([...gathered, mine]).metrics())
        .catch((err: unknown) => {
          logger.error({ err }, 'aggregating the workers’ metrics failed')
          return ''
        })
        .then((text) => send(asker, { lk: 'metrics', id, text }))
        .catch(() => {})
    }
    const timer = setTimeout(done, COLLECT_TIMEOUT_MS)
    collections.set(collection, { waiting, gathered, done })
    for (const worker of workers) send(worker, { lk: 'collect', id: collection })
    if (workers.length === 0) done()
  }

  const onMessage = (slot: Slot, worker: Worker, message: unknown): void => {
    if (!isOurs<ToPrimary>(message)) return
    switch (message.lk) {
      case 'ready':
        send(worker, { lk: 'start', config, slot: slot.number })
        break
      case 'listening':
        slot.listening = true
        startFailures = 0
        lastStartError = ''
        first ??= message
        if (slots.every((s) => s.listening)) allListening()
        break
      case 'failed':
        lastStartError = message.error
        break
      case 'broadcast':
        for (const other of live()) if (other !== worker) send(other, message)
        break
      case 'scrape':
        scrape(worker, message.id)
        break
      case 'collected': {
        const c = collections.get(message.id)
        if (c === undefined || !c.waiting.delete(worker)) break
        if (Array.isArray(message.metrics)) c.gathered.push(message.metrics as MetricJSON[])
        if (c.waiting.size === 0) c.done()
        break
      }
    }
  }

  const env = {
    UV_THREADPOOL_SIZE: process.env.UV_THREADPOOL_SIZE ?? String(WORKER_THREAD_POOL_SIZE),
  }
  const fork = (slot: Slot): void => {
    const worker = cluster.fork(env)
    slot.worker = worker
    slot.listening = false
    worker.on('message', (message: unknown) => onMessage(slot, worker, message))
    worker.once('exit', (code, signal) => {
      const wasListening = slot.listening
      slot.worker = undefined
      slot.listening = false
      for (const c of collections.values())
        if (c.waiting.delete(worker) && c.waiting.size === 0) c.done()
      if (closing) return
      if (!wasListening) {
        startFailures++
        lastStartError ||= `a worker exited with ${signal ?? `code ${code}`} before listening`
        if (startFailures >= MAX_START_FAILURES || first === undefined) {
          // At start, or a crash loop: stop the others and report the (last) reason.
          closing = true
          for (const other of slots) if (other.worker) send(other.worker, { lk: 'stop' })
          giveUp(new WorkersStartError(lastStartError))
          return
        }
      }
      restarts.inc()
      const now = Date.now()
      deaths.push(now)
      while (deaths.length > 0 && now - deaths[0]! > RESTART_MEMORY_MS) deaths.shift()
      const delay = Math.min(RESTART_MAX_MS, RESTART_BASE_MS * 2 ** (deaths.length - 1))
      logger.error(
        {
          worker: slot.number,
          pid: worker.process.pid,
          exitCode: code,
          signal,
          restartInMs: delay,
        },
        'worker exited unexpectedly; starting another',
      )
      setTimeout(() => {
        if (!closing) fork(slot)
      }, delay)
    })
  }

  for (const slot of slots) fork(slot)
  const outcome = await Promise.race([started.then(() => undefined), failed])
  if (outcome !== undefined) {
    await exited(slots)
    throw outcome
  }

  let closed: Promise<void> | undefined
  return {
    url: first!.url,
    metricsUrl: first!.metricsUrl,
    consoleUrl: first!.consoleUrl,
    failed,
    close() {
      closed ??= (async () => {
        closing = true
        const codes = await Promise.all(
          slots.map((slot) => {
            const worker = slot.worker
            if (worker === undefined) return Promise.resolve(0)
            send(worker, { lk: 'stop' })
            return exitCode(worker)
          }),
        )
        if (codes.some((code) => code !== 0)) {
          throw new Error('a worker did not close cleanly')
        }
      })()
      return closed
    },
  }
}

/** Resolves with the worker's exit code (1 when killed by a signal). */
function exitCode(worker: Worker): Promise<number> {
  if (worker.process.exitCode !== null) return Promise.resolve(worker.process.exitCode)
  if (worker.process.signalCode !== null) return Promise.resolve(1)
  return new Promise((resolve) => worker.once('exit', (code) => resolve(code ?? 1)))
}

/** Resolves once every slot's worker has exited. */
async function exited(slots: readonly Slot[]): Promise<void> {
  await Promise.all(slots.map((s) => (s.worker ? exitCode(s.worker) : Promise.resolve(0))))
}
