/**
 * A worker's side of the cluster (`serve --workers N`): what it says to its siblings through the
 * primary, and the primary's answers. Everything but the metrics is fire-and-forget: a message lost
 * (a sibling restarting) costs speed or a few counted failures, never correctness, because the store
 * stays the only truth (a revocation is read from it by every worker's follower anyway).
 */
import { isOurs, type ToPrimary, type ToWorker, type Topic } from './messages.js'

/** How long a scrape waits for the primary's aggregate before answering with this worker's alone. */
const SCRAPE_TIMEOUT_MS = 3000

export interface ClusterLink {
  /** Which worker this is (1 to N; a replacement keeps the slot of the worker it replaces). */
  readonly slot: number
  /** Sends `data` to every other worker; nothing comes back. */
  broadcast(topic: Topic, data: unknown): void
  /** Calls `handler` with what siblings broadcast on `topic`. */
  on(topic: Topic, handler: (data: unknown) => void): void
  /**
   * The whole cluster's metrics in the Prometheus text format, aggregated by the primary from every
   * worker's registry; `local()` when the primary does not answer in time.
   */
  clusterMetrics(local: () => Promise<string>): Promise<string>
  /** Answers the primary's `collect` with `collect()` (this worker's registry as JSON). */
  onCollect(collect: () => Promise<unknown>): void
}

/** The link of this process, a cluster worker started by `startWorkers` (`process.send` is set). */
export function createClusterLink(slot: number): ClusterLink {
  const send = (message: ToPrimary): void => {
    // The channel may be closing (the primary is going): a hint lost is harmless.
    if (process.connected) process.send!(message, undefined, {}, () => {})
  }
  const handlers = new Map<Topic, ((data: unknown) => void)[]>()
  const scrapes = new Map<number, (text: string) => void>()
  let collect: (() => Promise<unknown>) | undefined
  let nextId = 1
  process.on('message', (message: unknown) => {
    if (!isOurs<ToWorker>(message)) return
    if (message.lk === 'broadcast') {
      for (const handler of handlers.get(message.topic) ?? []) handler(message.data)
    } else if (message.lk === 'metrics') {
      scrapes.get(message.id)?.(message.text)
    } else if (message.lk === 'collect') {
      const id = message.id
      void (collect?.() ?? Promise.resolve([])).then(
        (metrics) => send({ lk: 'collected', id, metrics }),
        () => send({ lk: 'collected', id, metrics: [] }),
      )
    }
  })
  return {
    slot,
    broadcast: (topic, data) => send({ lk: 'broadcast', topic, data }),
    on(topic, handler) {
      const list = handlers.get(topic) ?? []
      list.push(handler)
      handlers.set(topic, list)
    },
    clusterMetrics(local) {
      const id = nextId++
      return new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => {
          scrapes.delete(id)
          local().then(resolve, reject)
        }, SCRAPE_TIMEOUT_MS)
        scrapes.set(id, (text) => {
          clearTimeout(timer)
          scrapes.delete(id)
          resolve(text)
        })
        send({ lk: 'scrape', id })
      })
    },
    onCollect(fn) {
      collect = fn
    },
  }
}
