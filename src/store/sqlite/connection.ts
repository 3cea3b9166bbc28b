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
): Database.Database {
  // `timeout` is SQLite's busy_timeout, set before the first statement: how long to wait for another
  // connection's lock (another process, or this store's other connection) before SQLITE_BUSY.
  const db = new Database(path, { timeout: busyTimeout })
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
