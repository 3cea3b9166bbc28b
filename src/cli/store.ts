/**
 * Opening the store from a command other than `serve`. The default database is created where it
 * belongs; an explicit SQLite path whose folder does not exist is refused, since it is almost always a
 * typo that would otherwise leave the client in a database no server reads.
 */
import { existsSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import { DEFAULT_DB } from '../config.js'
import { openStore } from '../store/index.js'
import type { Store } from '../store/types.js'
import { UsageError } from './output.js'

/** The `--db` value in force: the flag, else `LATCHKEY_DB`, else the default. */
export function dbUrl(flag: string | undefined): string {
  return flag ?? process.env.LATCHKEY_DB ?? DEFAULT_DB
}

/** Opens the store for a command; the caller closes it. */
export async function openCommandStore(flag: string | undefined): Promise<Store> {
  const url = dbUrl(flag)
  if (url.startsWith('sqlite:') && url !== DEFAULT_DB) {
    const path = url.slice('sqlite:'.length)
    if (path !== ':memory:' && !existsSync(dirname(resolve(path)))) {
      throw new UsageError(`database folder ${dirname(resolve(path))} does not exist (check --db)`)
    }
  }
  return openStore(url)
}

/** Runs `fn` with an open store and closes it whatever happens. */
export async function withStore<T>(
  flag: string | undefined,
  fn: (store: Store) => Promise<T>,
): Promise<T> {
  const store = await openCommandStore(flag)
  try {
    return await fn(store)
  } finally {
    await store.close()
  }
}
