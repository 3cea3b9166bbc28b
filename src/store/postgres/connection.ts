/**
 * The PostgreSQL connection pool, named statements, transactions, and the mapping of driver errors to
 * the storage contract's errors.
 */

import pg from 'pg'
import { ConflictError, StoreUnavailableError } from '../../errors.js'

/**
 * Advisory-lock keys (`pg_advisory_xact_lock`), scoped to the database by PostgreSQL. Held until the
 * transaction ends, so nothing can leave one held behind.
 */
export const LOCK = {
  /** Applying migrations: one node at a time. */
  migrations: 0x4c4b4d49,
  /** Every write of signing keys (a first key, rotation, retirement): see `./store.ts`. */
  keys: 0x4c4b4b59,
  /** Appending revocation events: see `APPEND_REVOCATION` in `./revoke.ts`. */
  feed: 0x4c4b4645,
} as const

/** A query prepared once per connection under its name (the hot paths parse nothing). */
export interface Statement {
  readonly name: string
  readonly text: string
}

const names = new Set<string>()

/** Declares a named statement. Names are global to a connection, so each may be declared once. */
export function sql(name: string, text: string): Statement {
  // A duplicate name with another text would fail on the wire: fail when the module loads instead.
  if (names.has(name)) throw new Error(`PostgreSQL statement ${name} is declared twice`)
  names.add(name)
  return { name: `latchkey_${name}`, text }
}

export type Values = unknown[]

/** Where statements run: the pool (each its own transaction) or one transaction's connection. */
export interface Queryable {
  rows<R>(statement: Statement, values: Values): Promise<R[]>
  count(statement: Statement, values: Values): Promise<number>
}

const INT8_OID = 20

/**
 * Type parsers for this pool only (never pg's global ones, which other code in the process may use).
 * `bigint` columns hold seconds since the epoch and revocation seqs, far below 2^53: read as numbers.
 */
function getTypeParser(oid: number, format?: 'text' | 'binary'): (value: string) => unknown {
  if (oid === INT8_OID && format !== 'binary') return Number
  return pg.types.getTypeParser(oid, format ?? 'text') as (value: string) => unknown
}
const types: pg.CustomTypesConfig = { getTypeParser }

export interface PoolOptions {
  poolSize: number
  connectTimeoutMs: number
  lockTimeoutMs: number
  queryTimeoutMs: number
}

export function createPool(url: string, options: PoolOptions): pg.Pool {
  const pool = new pg.Pool({
    connectionString: url,
    max: options.poolSize,
    connectionTimeoutMillis: options.connectTimeoutMs,
    // A row lock held too long by another transaction fails the statement (55P03), as SQLite's busy
    // timeout does, rather than queueing requests behind it.
    lock_timeout: options.lockTimeoutMs,
    // A server that stops answering (network partition) fails the query instead of hanging it.
    query_timeout: options.queryTimeoutMs,
    keepAlive: true,
    application_name: 'latchkey',
    types,
  })
  // An idle connection that breaks (server restart) is dropped by the pool; the next query opens a
  // new one. Without a listener the 'error' event would crash the process.
  pool.on('error', () => {})
  return pool
}

/** A readable name for the server, without the credentials: `host:port/database`. */
export function describeTarget(url: string): string {
  try {
    const parsed = new URL(url)
    const host = parsed.hostname || parsed.searchParams.get('host') || 'localhost'
    const database = decodeURIComponent(parsed.pathname.slice(1))
    return `${host}:${parsed.port || '5432'}${database ? `/${database}` : ''}`
  } catch {
    return 'the PostgreSQL server'
  }
}

/** SQLSTATE classes and codes that mean "the database cannot serve us now". */
const UNAVAILABLE_SQLSTATE = /^(08...|57P0[123]|53...|55P03|57014|25006|28...|3D000|40001|40P01)$/
const UNAVAILABLE_NODE_CODE =
  /^(ECONNREFUSED|ECONNRESET|ETIMEDOUT|ENOTFOUND|EAI_AGAIN|EHOSTUNREACH|ENETUNREACH|EPIPE|ECONNABORTED)$/
// pg and pg-pool report these as plain errors without a code.
const UNAVAILABLE_MESSAGE =
  /^timeout expired$|timeout exceeded when trying to connect|Connection terminated|not queryable|after calling end on the pool|Query read timeout/

/** The SQLSTATE or Node error code of a driver error, if it has one. */
export function errorCode(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null || !('code' in error)) return undefined
  return typeof error.code === 'string' ? error.code : undefined
}

/** Whether a driver error means the server could not be reached or could not serve the query. */
export function isUnavailable(error: unknown): boolean {
  const code = errorCode(error)
  if (error instanceof pg.DatabaseError)
    return code !== undefined && UNAVAILABLE_SQLSTATE.test(code)
  if (code !== undefined && UNAVAILABLE_NODE_CODE.test(code)) return true
  // Node reports a connection refused on every address of a host as one AggregateError.
  if (error instanceof AggregateError) return error.errors.some(isUnavailable)
  return error instanceof Error && UNAVAILABLE_MESSAGE.test(error.message)
}

/** Maps a driver error to the contract's errors; anything unexpected passes through unchanged. */
export function toStoreError(error: unknown): Error {
  if (error instanceof ConflictError || error instanceof StoreUnavailableError) return error
  if (error instanceof pg.DatabaseError && error.code === '23505') {
    // The driver's error names the constraint and, in `detail`, the key: an id, a username or a
    // hash, never a secret. Safe to keep as the cause.
    return new ConflictError('a record with this key already exists', { cause: error })
  }
  if (isUnavailable(error)) {
    return new StoreUnavailableError('the PostgreSQL database is unavailable', { cause: error })
  }
  return error instanceof Error ? error : new Error(String(error))
}

/** Deadlock or serialization failure: the transaction was rolled back and may simply run again. */
function isRetryable(error: unknown): boolean {
  const code = errorCode(error)
  return error instanceof pg.DatabaseError && (code === '40P01' || code === '40001')
}

const TRANSACTION_ATTEMPTS = 3

/** The pool, with the contract's error mapping and a closed state. */
export class PgDatabase implements Queryable {
  private closing: Promise<void> | undefined

  constructor(private readonly pool: pg.Pool) {}

  get closed(): boolean {
    return this.closing !== undefined
  }

  private checkOpen(): void {
    if (this.closed) throw new StoreUnavailableError('the PostgreSQL store is closed')
  }

  async rows<R>(statement: Statement, values: Values): Promise<R[]> {
    this.checkOpen()
    try {
      const result = await this.pool.query<pg.QueryResultRow>({ ...statement, values })
      return result.rows as R[]
    } catch (error) {
      throw toStoreError(error)
    }
  }

  async count(statement: Statement, values: Values): Promise<number> {
    this.checkOpen()
    try {
      return (await this.pool.query({ ...statement, values })).rowCount ?? 0
    } catch (error) {
      throw toStoreError(error)
    }
  }

  /** `SELECT 1`, failing with `StoreUnavailableError` when no answer comes within `timeoutMs`. */
  async ping(timeoutMs: number): Promise<void> {
    this.checkOpen()
    let timer: NodeJS.Timeout | undefined
    const query = this.pool.query('SELECT 1')
    // Settled late, after the timeout won: nobody waits for it any more.
    query.catch(() => {})
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        reject(
          new StoreUnavailableError(`the PostgreSQL database did not answer in ${timeoutMs} ms`),
        )
      }, timeoutMs)
    })
    try {
      await Promise.race([query, timeout])
    } catch (error) {
      throw toStoreError(error)
    } finally {
      clearTimeout(timer)
    }
  }

  /**
   * Runs `work` in one READ COMMITTED transaction on one connection and commits it; rolls back on
   * any error. A deadlock or serialization failure (the transaction was rolled back whole) runs it
   * again, up to three times, so `work` may run more than once. Errors thrown by `work` itself
   * pass through unchanged.
   */
  async transaction<T>(work: (tx: Queryable) => Promise<T>): Promise<T> {
    return this.retrying(() => this.transactionOnce(work))
  }

  /**
   * `rows` for one statement that is a whole transaction (a function doing several writes), run
   * again after a deadlock or a serialization failure, as `transaction` does.
   */
  async rowsRetrying<R>(statement: Statement, values: Values): Promise<R[]> {
    this.checkOpen()
    return this.retrying(
      async () => (await this.pool.query<pg.QueryResultRow>({ ...statement, values })).rows as R[],
    )
  }

  private async retrying<T>(attempt: () => Promise<T>): Promise<T> {
    for (let count = 1; ; count++) {
      try {
        return await attempt()
      } catch (error) {
        if (count >= TRANSACTION_ATTEMPTS || !isRetryable(error)) throw toStoreError(error)
        await new Promise((resolve) => setTimeout(resolve, Math.random() * 20 * count))
      }
    }
  }

  private async transactionOnce<T>(work: (tx: Queryable) => Promise<T>): Promise<T> {
    this.checkOpen()
    const client = await this.pool.connect()
    // A checked-out connection that breaks between two queries emits 'error': the next query
    // fails, so the event itself only needs a listener.
    const ignore = () => {}
    client.on('error', ignore)
    let broken: Error | undefined
    try {
      await client.query('BEGIN')
      const tx: Queryable = {
        rows: async <R>(statement: Statement, values: Values) =>
          (await client.query<pg.QueryResultRow>({ ...statement, values })).rows as R[],
        count: async (statement, values) =>
          (await client.query({ ...statement, values })).rowCount ?? 0,
      }
      const result = await work(tx)
      await client.query('COMMIT')
      return result
    } catch (error) {
      try {
        await client.query('ROLLBACK')
      } catch (rollbackError) {
        // The connection is unusable: the pool must drop it rather than hand it out again.
        broken = rollbackError instanceof Error ? rollbackError : new Error(String(rollbackError))
      }
      throw error
    } finally {
      client.off('error', ignore)
      client.release(broken)
    }
  }

  /** Ends the pool once; later calls wait for the same end. */
  close(): Promise<void> {
    this.closing ??= this.pool.end().catch((error: unknown) => {
      throw toStoreError(error)
    })
    return this.closing
  }
}
