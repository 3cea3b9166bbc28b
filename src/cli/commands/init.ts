/**
 * `latchkey init [--db URL]`: creates the database, its schema and its first signing key, as
 * `latchkey serve` does on a first start (the same settings: `LATCHKEY_SIGNING_ALG`,
 * `LATCHKEY_KEY_ENCRYPTION_SECRET`). Idempotent: on a database that already has a signing key it
 * changes nothing and says so. The only command besides `serve` that creates a database.
 *
 * Prints `{ db, created, kid, alg, encrypted }`: the database (any password hidden), whether this run
 * created its first signing key (true on a new database, false when one was there), and the key that
 * signs now.
 */
import { loadInitConfig } from '../../config.js'
import { openStore } from '../../store/index.js'
import { ensureSigningKey } from '../../tokens/key_management.js'
import { isSealed, pickSigningKey } from '../../tokens/keys.js'
import { printJSON } from '../output.js'
import { displayDbUrl } from '../store.js'

export interface InitOptions {
  db?: string
  signingAlg?: string
}

export async function init(o: InitOptions): Promise<void> {
  const config = loadInitConfig({ db: o.db, signingAlg: o.signingAlg })
  const store = await openStore(config.db, { poolSize: 1 })
  try {
    const now = Math.floor(Date.now() / 1000)
    const created = await ensureSigningKey(store, {
      alg: config.signingAlg,
      now,
      keyEncryptionSecret: config.keyEncryptionSecret,
    })
    const signing = created ?? pickSigningKey(await store.listKeys(), now)
    printJSON({
      db: displayDbUrl(config.db),
      created: created !== null,
      kid: signing?.kid ?? null,
      alg: signing?.alg ?? null,
      encrypted: signing ? isSealed(signing.privateKey) : null,
    })
  } finally {
    await store.close()
  }
}
