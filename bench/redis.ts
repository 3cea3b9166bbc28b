/**
 * The Redis server for the PostgreSQL + Redis systems: reached once to see that it is there, a key
 * prefix of the benchmark's own for each system (`LATCHKEY_REDIS_PREFIX`), so that a run never reads
 * or leaves another's keys, and the deletion of every key under that prefix once the system has run
 * (even on Ctrl-C). Also the Redis server's process, whose CPU is Redis's share of a case.
 */
import { readFileSync } from 'node:fs'
import { Redis } from 'ioredis'

/** The Redis server the benchmark uses unless told otherwise (`--redis`, LATCHKEY_BENCH_REDIS). */
export const DEFAULT_REDIS = 'redis://127.0.0.1:6379'

export interface BenchRedis {
  /** The Redis URL, for `latchkey serve --redis`. */
  url: string
  /**
   * The Redis server's process id when it runs on this machine (its `process_id` names a
   * `redis-server` here), else null.
   */
  pid: number | null
  /** Deletes every key under `prefix`; resolves with how many were deleted. */
  deleteKeys(prefix: string): Promise<number>
  close(): Promise<void>
}

/** `text` as a SCAN MATCH pattern that matches it literally. */
function globLiteral(text: string): string {
  return text.replace(/[*?[\]\\]/g, (c) => `\\${c}`)
}

/** The pid of the Redis server when it is a process of this machine. */
function localPid(info: string): number | null {
  const match = /^process_id:(\d+)/m.exec(info)
  if (!match?.[1]) return null
  const pid = Number(match[1])
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').startsWith('redis-server') ? pid : null
  } catch {
    return null
  }
}

/** Connects to the Redis server at `url` (throws when it does not answer PING). */
export async function openBenchRedis(url: string): Promise<BenchRedis> {
  const client = new Redis(url, {
    lazyConnect: true,
    connectTimeout: 3000,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    // One try: an unreachable server skips the systems instead of being waited for.
    retryStrategy: () => null,
  })
  // The connection's own error (ECONNREFUSED…) says more than the rejection ("Connection is closed").
  let lastError: unknown = null
  client.on('error', (error: unknown) => (lastError = error))
  try {
    await client.connect()
    await client.ping()
  } catch (error) {
    client.disconnect()
    throw lastError instanceof Error ? lastError : error
  }
  const pid = localPid(await client.info('server'))
  return {
    url,
    pid,
    async deleteKeys(prefix) {
      let deleted = 0
      let cursor = '0'
      do {
        const [next, keys] = await client.scan(
          cursor,
          'MATCH',
          `${globLiteral(prefix)}*`,
          'COUNT',
          1000,
        )
        if (keys.length > 0) deleted += await client.unlink(...keys)
        cursor = next
      } while (cursor !== '0')
      return deleted
    },
    async close() {
      await client.quit().catch(() => client.disconnect())
    },
  }
}

/**
 * A Redis key prefix that no other run (nor another system of this run) shares, well within the 64
 * characters Latchkey accepts: `latchkey-bench-<pid>-<time, base 36>-<system>:`.
 */
export function benchRedisPrefix(system: string): string {
  return `latchkey-bench-${process.pid}-${Date.now().toString(36)}-${system}:`
}
