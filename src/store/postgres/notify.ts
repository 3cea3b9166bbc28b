/**
 * Revocation wake-ups between nodes: every append of a revocation event sends `NOTIFY
 * latchkey_revocations` in its transaction (PostgreSQL delivers it at commit, once per transaction),
 * and a node's follower LISTENs on a dedicated connection to read the feed at once instead of at its
 * next poll. A notice is only a hint, never the event itself: the follower still reads the events from
 * `revocations` by seq and keeps polling, so a lost connection loses no event, only speed.
 */

import pg from 'pg'

/** The channel `APPEND_REVOCATION` notifies (no payload: readers list by seq). */
export const REVOCATION_CHANNEL = 'latchkey_revocations'

/** Delay before reconnecting after the listening connection fails, doubling up to the maximum. */
const RETRY_MIN_MS = 100
const RETRY_MAX_MS = 5000

/**
 * Listens on `REVOCATION_CHANNEL` with a connection of its own and calls `onNotice` for each
 * notification, and once after every (re)connection (events may have been appended while it was
 * down). Reconnects by itself, with backoff. Returns the function that stops listening. Does not
 * report failures: while it is down, the caller's polling is the only path.
 */
export function listenForRevocations(
  url: string,
  onNotice: () => void,
  connectTimeoutMs: number,
): () => Promise<void> {
  let stopped = false
  let client: pg.Client | undefined
  let timer: NodeJS.Timeout | undefined
  let delay = RETRY_MIN_MS

  const retry = (): void => {
    if (stopped || timer) return
    timer = setTimeout(() => {
      timer = undefined
      void connect()
    }, delay)
    timer.unref()
    delay = Math.min(delay * 2, RETRY_MAX_MS)
  }

  const connect = async (): Promise<void> => {
    const current = new pg.Client({
      connectionString: url,
      connectionTimeoutMillis: connectTimeoutMs,
      keepAlive: true,
      application_name: 'latchkey listen',
    })
    client = current
    const drop = (): void => {
      if (client === current) client = undefined
      current.end().catch(() => {})
      retry()
    }
    current.on('error', drop)
    current.on('end', () => {
      if (client === current) drop()
    })
    current.on('notification', (message) => {
      if (message.channel === REVOCATION_CHANNEL) onNotice()
    })
    try {
      await current.connect()
      await current.query(`LISTEN ${REVOCATION_CHANNEL}`)
      if (stopped) {
        await current.end()
        return
      }
      delay = RETRY_MIN_MS
      onNotice()
    } catch {
      drop()
    }
  }

  void connect()
  return async () => {
    stopped = true
    clearTimeout(timer)
    timer = undefined
    const current = client
    client = undefined
    await current?.end().catch(() => {})
  }
}
