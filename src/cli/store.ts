/**
 * Opening the store from a command other than `serve` and `init`. Those never create a database: a
 * SQLite file that does not exist is almost always a typo or the wrong folder, and a command that
 * made one would leave its client or user in a database no server reads. They are refused with the
 * `latchkey init` line that creates the database.
 */
import { userInfo } from 'node:os'
import type { AuditContext } from '../audit/record.js'
import { DEFAULT_DB } from '../config.js'
import { MissingDatabaseError } from '../errors.js'
import { openStore } from '../store/index.js'
import type { Store } from '../store/types.js'
import { UsageError } from './output.js'

/** Who the audit log records for a command: the operating-system user running the CLI. */
export function cliActor(): AuditContext {
  let name: string
  try {
    name = userInfo().username
  } catch {
    name = process.env.USER ?? 'unknown'
  }
  return { actor: `cli:${name}`, address: null }
}

/** The `--db` value in force: the flag, else `LATCHKEY_DB`, else the default. */
function dbUrl(flag: string | undefined): string {
  return flag ?? process.env.LATCHKEY_DB ?? DEFAULT_DB
}

/** The store URL as it may be shown: any password replaced. */
export function displayDbUrl(db: string): string {
  if (!db.includes('://')) return db
  try {
    const url = new URL(db)
    if (url.password) url.password = '***'
    return url.toString()
  } catch {
    return db.replace(/\/\/[^@/]*@/, '//***@')
  }
}

/** A shell word: quoted only when it needs to be, so that the printed command can be pasted. */
function shellWord(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`
}

/** The command that creates the database at `url`. */
function initCommand(url: string): string {
  return url === DEFAULT_DB ? 'latchkey init' : `latchkey init --db ${shellWord(displayDbUrl(url))}`
}

/** Opens the existing store for a command; the caller closes it. Creates nothing. */
async function openCommandStore(flag: string | undefined): Promise<Store> {
  const url = dbUrl(flag)
  try {
    return await openStore(url, { create: false })
  } catch (err) {
    if (err instanceof MissingDatabaseError) {
      throw new UsageError(
        `no database at ${err.location} (run \`${initCommand(url)}\` to create one)`,
      )
    }
    throw err
  }
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
