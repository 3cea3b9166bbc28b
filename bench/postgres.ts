/**
 * The PostgreSQL engine's database for the benchmark: a fresh one per run, `latchkey_bench_<random>`,
 * created through a maintenance database and dropped at the end (even on Ctrl-C), and the server
 * processes (backends) that serve it, whose CPU is the database's share of a case.
 */
import { randomBytes } from 'node:crypto'
import pg from 'pg'

/** The maintenance database (only for CREATE and DROP DATABASE); override with LATCHKEY_BENCH_POSTGRES. */
export const DEFAULT_POSTGRES = 'postgres://postgres@127.0.0.1:5432/postgres'

export interface BenchDatabase {
  /** The new database's URL, for `--db`. */
  url: string
  name: string
  /** Process ids of the PostgreSQL backends connected to this database now (same machine only). */
  backendPids(): Promise<number[]>
  /** Drops the database, ending any connection left on it. Safe to call more than once. */
  drop(): Promise<void>
}

async function withClient<T>(url: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000 })
  client.on('error', () => {})
  await client.connect()
  try {
    return await work(client)
  } finally {
    await client.end()
  }
}

/** Creates an empty database (the server's migrations create the schema on start). */
export async function createBenchDatabase(maintenanceUrl: string): Promise<BenchDatabase> {
  const name = `latchkey_bench_${randomBytes(6).toString('hex')}`
  await withClient(maintenanceUrl, (client) => client.query(`CREATE DATABASE ${name}`))
  const url = new URL(maintenanceUrl)
  url.pathname = `/${name}`
  let dropped = false
  return {
    url: url.href,
    name,
    backendPids: () =>
      withClient(maintenanceUrl, async (client) => {
        const { rows } = await client.query<{ pid: number }>(
          'SELECT pid FROM pg_stat_activity WHERE datname = $1',
          [name],
        )
        return rows.map((r) => r.pid)
      }),
    async drop() {
      if (dropped) return
      dropped = true
      await withClient(maintenanceUrl, (client) =>
        client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`),
      )
    },
  }
}
