/** Opening a SQLite connection, and mapping driver errors to the storage contract's errors. */

import { mkdirSync } from 'node:fs'
import { dirname } from 'node:path'
import Database from 'better-sqlite3'
import { ConflictError, StoreUnavailableError } from '../../errors.js'

export function createParentFolder(path: string): void {
  const folder = dirname(path)
  try {
    mkdirSync(folder, { recursive: true })
  } catch (error) {
    throw new StoreUnavailableError(`cannot create the folder ${folder} for the SQLite database`, {
      cause: error,
    })
  }
}

export function openConnection(
  path: string,
  busyTimeout: number,
  synchronous: 'NORMAL' | 'FULL',
  mustExist = false,
): Database.Database {
  // `timeout` is SQLite's busy_timeout, set before the first statement: how long to wait for another
  // connection's lock (another process, or this store's other connection) before SQLITE_BUSY.
  const db = new Database(path, { timeout: busyTimeout, fileMustExist: mustExist })
  try {
    db.pragma(`synchronous = ${synchronous}`)
    // On macOS a plain fsync leaves data in the drive's cache; F_FULLFSYNC flushes it. No-op elsewhere.
    if (synchronous === 'FULL') db.pragma('fullfsync = ON')
    db.pragma('foreign_keys = ON')
  } catch (error) {
    db.close()
    throw error
  }
  return db
}

/**
 * Puts the database in WAL mode and returns the mode SQLite reports. Switching a new file into WAL
 * takes a lock that SQLite does not wait for through busy_timeout: when several processes open a
 * new file at once, all but one get SQLITE_BUSY straight away. So this retries, with short random
 * pauses, until `busyTimeout` has passed, then gives up as busy_timeout would.
 */
export function enableWal(db: Database.Database, busyTimeout: number): unknown {
  const deadline = Date.now() + busyTimeout
  const pause = new Int32Array(new SharedArrayBuffer(4))
  for (;;) {
    try {
      return db.pragma('journal_mode = WAL', { simple: true })
    } catch (error) {
      const busy = error instanceof Database.SqliteError && error.code.startsWith('SQLITE_BUSY')
      if (!busy || Date.now() >= deadline) throw error
      // A synchronous sleep: opening the store is synchronous, as busy_timeout's own waits are.
      Atomics.wait(pause, 0, 0, 2 + Math.random() * 8)
    }
  }
}

const UNAVAILABLE_CODE = /^SQLITE_(BUSY|LOCKED|CANTOPEN|IOERR|FULL|READONLY)(_|$)/

/** Maps a driver error to the contract's errors; anything unexpected passes through unchanged. */
export function toStoreError(error: unknown): Error {
  if (error instanceof Database.SqliteError) {
    if (
      error.code === 'SQLITE_CONSTRAINT_PRIMARYKEY' ||
      error.code === 'SQLITE_CONSTRAINT_UNIQUE'
    ) {
      // The driver's message names the column, never the value: safe to keep as the cause.
      return new ConflictError('a record with this key already exists', { cause: error })
    }
    if (UNAVAILABLE_CODE.test(error.code)) {
      return new StoreUnavailableError('the SQLite database is unavailable', { cause: error })
    }
    return error
  }
  if (
    error instanceof TypeError &&
    /database connection is not open|directory does not exist/.test(error.message)
  ) {
    return new StoreUnavailableError('the SQLite database is unavailable', { cause: error })
  }
  return error instanceof Error ? error : new Error(String(error))
}
