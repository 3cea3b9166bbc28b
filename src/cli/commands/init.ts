/**
 * `latchkey init [--db URL]`: creates the database, its schema and its first signing keys, as
 * `latchkey serve` does on a first start (the same settings: `LATCHKEY_SIGNING_ALG`,
 * `LATCHKEY_KEY_ENCRYPTION_SECRET`): one for access tokens and one RS256 key for ID tokens (the same
 * when the access-token alg is RS256). Idempotent: on a database that already has them it changes
 * nothing and says so. The only command besides `serve` that creates a database.
 *
 * Prints `{ db, created, kid, alg, encrypted, id_token_kid }`: the database (any password hidden),
 * whether this run created the access-token key (true on a new database, false when one was there),
 * the access-token key that signs now, and the RS256 key that signs ID tokens.
 */
import { loadInitConfig } from '../../config.js'
import { openStore } from '../../store/index.js'
import { ensureSigningKeys, ID_TOKEN_DEFAULT_ALG } from '../../tokens/key_management.js'
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
    const created = await ensureSigningKeys(store, {
      alg: config.signingAlg,
      now,
      keyEncryptionSecret: config.keyEncryptionSecret,
      idTokenSeconds: config.idTokenSeconds,
    })
    const keys = await store.listKeys()
    const signing = pickSigningKey(keys, now, config.signingAlg)
    printJSON({
      db: displayDbUrl(config.db),
      created: created.some((k) => k.alg === config.signingAlg),
      kid: signing?.kid ?? null,
      alg: signing?.alg ?? null,
      encrypted: signing ? isSealed(signing.privateKey) : null,
      id_token_kid: pickSigningKey(keys, now, ID_TOKEN_DEFAULT_ALG)?.kid ?? null,
    })
  } finally {
    await store.close()
  }
}
