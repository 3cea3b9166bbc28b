/**
 * The Latchkey systems on PostgreSQL: one node and two nodes on one database, each without and with
 * Redis. Each system gets a fresh database, dropped after it, and the Redis ones a key prefix of
 * their own (`LATCHKEY_REDIS_PREFIX`), whose keys are deleted after it; both also on Ctrl-C or an
 * error, through the harness. A service that does not answer skips its systems, which the report
 * lists as not measured.
 */
import type { CaseId } from './cases.js'
import { createBenchDatabase } from './postgres.js'
import { benchRedisPrefix, openBenchRedis, type BenchRedis } from './redis.js'
import type { SystemId, SystemReport } from './report.js'
import { runLatchkey, type LatchkeyEngine, type RunContext } from './systems.js'

/** The cases PostgreSQL runs (the refresh grant on one node only, as on SQLite). */
export const POSTGRES_CASES: readonly CaseId[] = [
  'token-jwt',
  'token-opaque',
  'introspect-opaque',
  'introspect-jwt',
  'refresh',
]

/** The systems on PostgreSQL, in the report's order, each on a fresh database of its own. */
export const POSTGRES_SYSTEMS: readonly {
  id: LatchkeyEngine['id']
  redis: boolean
  nodes: number
  /** `latchkey serve --workers` of each node. */
  workers: number
}[] = [
  { id: 'latchkey-postgres', redis: false, nodes: 1, workers: 1 },
  { id: 'latchkey-postgres-workers', redis: false, nodes: 1, workers: 2 },
  { id: 'latchkey-postgres-redis', redis: true, nodes: 1, workers: 1 },
  { id: 'latchkey-postgres-2', redis: false, nodes: 2, workers: 1 },
  { id: 'latchkey-postgres-redis-2', redis: true, nodes: 2, workers: 1 },
]

/** What the PostgreSQL systems need from the command line. */
export interface PostgresOptions {
  /** The maintenance database where each system's database is created and dropped. */
  postgres: string
  /** The Redis server of the `+ Redis` systems; null: those are left out. */
  redis: string | null
  /** `dist/src/cli/main.js` of the build under test. */
  cli: string
  sessions: number
}

/** A system that was not measured, and why. */
export function skippedSystem(id: SystemId, description: string, reason: string): SystemReport {
  return {
    id,
    description,
    skipped: reason,
    peakRssBytes: null,
    cases: [],
    unsupported: [],
    notes: [],
  }
}

/**
 * Latchkey on PostgreSQL, without and with Redis, one node and two: each system on a fresh database,
 * dropped after it, and the Redis ones with a key prefix of their own, whose keys are deleted after
 * it (both also on Ctrl-C or an error). A service that does not answer skips its systems.
 */
export async function runPostgresSystems(
  context: RunContext,
  options: PostgresOptions,
): Promise<SystemReport[]> {
  const { postgres } = options
  const { harness, progress } = context
  /** Redis, reached when the first system that needs it comes (undefined: not tried yet). */
  let redis: BenchRedis | null | undefined
  const openRedis = async (url: string): Promise<BenchRedis | null> => {
    if (redis !== undefined) return redis
    redis = await openBenchRedis(url).catch((error: unknown) => {
      const reason = error instanceof Error ? error.message : String(error)
      progress.note(`Redis not reachable (${reason}): the PostgreSQL + Redis systems skipped`)
      return null
    })
    const opened = redis
    if (opened) harness.defer(() => opened.close())
    return opened
  }
  const out: SystemReport[] = []
  let postgresDown = false
  for (const system of POSTGRES_SYSTEMS) {
    if (system.redis && !options.redis) continue
    if (postgresDown) {
      out.push(skippedSystem(system.id, postgres, 'PostgreSQL was not reachable'))
      continue
    }
    const server = system.redis && options.redis ? await openRedis(options.redis) : null
    if (system.redis && !server) {
      out.push(skippedSystem(system.id, options.redis ?? '', 'Redis was not reachable'))
      continue
    }
    const database = await createBenchDatabase(postgres).catch((error: unknown) => {
      const reason = error instanceof Error ? error.message : String(error)
      progress.note(`PostgreSQL not reachable (${reason}): engine skipped`)
      return null
    })
    if (!database) {
      postgresDown = true
      out.push(skippedSystem(system.id, postgres, 'PostgreSQL was not reachable'))
      continue
    }
    harness.defer(() => database.drop())
    const prefix = benchRedisPrefix(system.id.replace(/^latchkey-/, ''))
    let keysDeleted = false
    const deleteKeys = async (): Promise<number> => {
      if (!server || keysDeleted) return 0
      keysDeleted = true
      return server.deleteKeys(prefix)
    }
    harness.defer(async () => void (await deleteKeys()))
    const report = await runLatchkey(
      context,
      options.cli,
      {
        id: system.id,
        db: database.url,
        cases: POSTGRES_CASES,
        database,
        nodes: system.nodes,
        workers: system.workers,
        ...(server ? { redis: { server, prefix } } : {}),
      },
      options.sessions,
    )
    if (server) report.notes.push(`${await deleteKeys()} Redis keys under ${prefix} deleted`)
    await database.drop()
    out.push(report)
  }
  await redis?.close()
  return out
}
