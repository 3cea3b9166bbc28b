/**
 * Redis pub/sub as a wake-up channel for the revocation feed between nodes (`--redis URL`).
 *
 * Key layout: none. Redis holds nothing here, only the channel `<prefix>revocations` (default
 * `latchkey:revocations`, the prefix from `--redis-prefix`), on which a node
 * publishes an empty message after each revocation it wrote to the store has committed. Every node
 * subscribes and, on a message, reads the feed from the store at once instead of at its next poll.
 * A message is a hint, never the event: events are read from the store by seq, so losing Redis (or a
 * message) loses no data, only speed, and polling goes on meanwhile. Pub/sub channels are global to a
 * Redis server: another deployment on the same channel only causes spurious (harmless) reads.
 */

import { Redis } from 'ioredis'
import type { Logger } from 'pino'
import { afterRevokingWrites } from '../revoking_writes.js'
import type { Store } from '../types.js'

/** The channel of a deployment whose Redis keys and channels begin with `prefix`. */
const revocationChannel = (prefix: string): string => `${prefix}revocations`

export interface RevocationWakeups {
  /** The store, with every committed revocation announced and `watchRevocations` also fed by Redis. */
  store: Store
  /** Closes both Redis connections. */
  close(): Promise<void>
}

/**
 * Wraps `store`: after a write that appended a revocation event commits, publishes on the channel;
 * `watchRevocations` calls back on the engine's own notices (PostgreSQL) and on the channel's
 * messages. Redis failures are logged once per outage and never fail a request; ioredis reconnects
 * by itself. Does not cache anything.
 */
export function withRedisWakeups(
  store: Store,
  url: string,
  logger: Logger,
  prefix = 'latchkey:',
): RevocationWakeups {
  const channel = revocationChannel(prefix)
  const options = {
    // Publishing while disconnected fails at once instead of queueing: a late hint is worthless.
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    lazyConnect: false,
    retryStrategy: (attempt: number) => Math.min(attempt * 100, 2000),
  }
  const publisher = new Redis(url, options)
  // The subscription waits for a connection however long it takes (Redis may be down at start);
  // ioredis subscribes again by itself after every reconnection.
  const subscriber = new Redis(url, {
    ...options,
    enableOfflineQueue: true,
    maxRetriesPerRequest: null,
  })
  let failing = false
  const failed = (err: unknown): void => {
    if (!failing)
      logger.warn({ err }, 'redis: unavailable; the revocation feed falls back to polling')
    failing = true
  }
  const recovered = (): void => {
    if (failing) logger.info('redis: connected again')
    failing = false
  }
  publisher.on('error', failed)
  subscriber.on('error', failed)
  publisher.on('ready', recovered)

  const watchers = new Set<() => void>()
  const wakeAll = (): void => {
    for (const watcher of [...watchers]) watcher()
  }
  subscriber.on('message', (name: string) => {
    if (name === channel) wakeAll()
  })
  // Also on every (re)subscription: events may have been announced while we were away.
  subscriber.on('ready', wakeAll)
  subscriber.subscribe(channel).catch(failed)

  const announce = (): void => {
    publisher.publish(channel, '').then(recovered, failed)
  }
  // Every write that appended a revocation is announced once it has committed.
  const wrapped = afterRevokingWrites(store, (appended) => {
    if (appended) announce()
  })
  Object.assign(wrapped, {
    watchRevocations(onAppend: () => void): () => Promise<void> {
      watchers.add(onAppend)
      const stopEngine = store.watchRevocations?.(onAppend)
      return async () => {
        watchers.delete(onAppend)
        await stopEngine?.()
      }
    },
  })

  return {
    store: wrapped,
    close() {
      publisher.disconnect()
      subscriber.disconnect()
      return Promise.resolve()
    },
  }
}
