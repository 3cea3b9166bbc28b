/**
 * Throwaway PostgreSQL databases for tests: each test file (or test) creates its own, named
 * `latchkey_t_<random>`, and drops it when done, so runs in parallel never share state. The server
 * is the machine's (CI starts it); `LATCHKEY_TEST_POSTGRES` names another maintenance database.
 */

import { randomBytes } from 'node:crypto'
import pg from 'pg'

/** A database every test can connect to, used only to create and drop the throwaway ones. */
export const MAINTENANCE_URL =
  process.env.LATCHKEY_TEST_POSTGRES ?? 'postgres://postgres@127.0.0.1:5432/test'

export interface TestDatabase {
  name: string
  /** The URL of the new database: the maintenance URL with its database name replaced. */
  url: string
  /** Empties every table but `schema_migrations` and restarts its sequences: a store as new. */
  reset(): Promise<void>
  /** Runs one statement in the database (for tests that look under the store). */
  query<R extends pg.QueryResultRow>(text: string, values?: unknown[]): Promise<R[]>
  /** Closes the helper's connection and drops the database, ending any connection left on it. */
  drop(): Promise<void>
}

async function maintenance<T>(work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: MAINTENANCE_URL })
  await client.connect()
  try {
    return await work(client)
  } finally {
    await client.end()
  }
}

/** Creates an empty database (no schema: the store's migrations create it). */
export async function createTestDatabase(): Promise<TestDatabase> {
  const name = `latchkey_t_${randomBytes(6).toString('hex')}`
  await maintenance((client) => client.query(`CREATE DATABASE ${name}`))
  const url = new URL(MAINTENANCE_URL)
  url.pathname = `/${name}`

  let helper: pg.Client | undefined
  const connection = async (): Promise<pg.Client> => {
    if (helper === undefined) {
      helper = new pg.Client({ connectionString: url.href })
      helper.on('error', () => {})
      await helper.connect()
    }
    return helper
  }

  return {
    name,
    url: url.href,
    async reset() {
      const client = await connection()
      const { rows } = await client.query<{ statement: string }>(
        `SELECT format('DELETE FROM %I', tablename) AS statement FROM pg_tables
         WHERE schemaname = 'public' AND tablename <> 'schema_migrations'
         UNION ALL
         SELECT format('ALTER SEQUENCE %I RESTART', sequencename) FROM pg_sequences
         WHERE schemaname = 'public'`,
      )
      if (rows.length === 0) return
      // DELETE, not TRUNCATE: on a few rows it takes ~1 ms where TRUNCATE takes ~90 (new files).
      // One simple query of several statements runs as one transaction.
      await client.query(rows.map((r) => r.statement).join('; '))
    },
    async query<R extends pg.QueryResultRow>(text: string, values: unknown[] = []) {
      return (await (await connection()).query<R>(text, values)).rows
    },
    async drop() {
      await helper?.end().catch(() => {})
      await maintenance((client) => client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`))
    },
  }
}
