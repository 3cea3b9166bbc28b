/**
 * `latchkey keys list|rotate|retire`: the signing keys. Private keys are never printed.
 */
import { SIGNING_ALGS, type SigningAlg, type SigningKeyRecord } from '../../store/types.js'
import { retireSigningKey, rotateSigningKey } from '../../tokens/key_management.js'
import { isSealed, keyState } from '../../tokens/keys.js'
import { printJSON, UsageError } from '../output.js'
import { withStore } from '../store.js'

const now = (): number => Math.floor(Date.now() / 1000)
const iso = (t: number | null): string | null =>
  t === null ? null : new Date(t * 1000).toISOString()

/** `k` as listed: its state is decided among `keys`, every key in the store (see `keyState`). */
export function keyJSON(
  k: SigningKeyRecord,
  keys: readonly SigningKeyRecord[],
  at: number,
): Record<string, unknown> {
  return {
    kid: k.kid,
    alg: k.alg,
    state: keyState(k, keys, at),
    created_at: iso(k.createdAt),
    activates_at: iso(k.activatesAt),
    superseded_at: iso(k.supersededAt),
    published_until: iso(k.publishedUntil),
    retired_at: iso(k.retiredAt),
    encrypted: isSealed(k.privateKey),
  }
}

export async function listKeys(o: { db?: string }): Promise<void> {
  await withStore(o.db, async (store) => {
    const at = now()
    const keys = await store.listKeys()
    printJSON(keys.map((k) => keyJSON(k, keys, at)))
  })
}

export async function rotateKey(o: {
  db?: string
  alg?: string
  activateIn?: string
}): Promise<void> {
  const alg = (o.alg ?? process.env.LATCHKEY_SIGNING_ALG ?? 'ES256') as SigningAlg
  if (!SIGNING_ALGS.includes(alg)) {
    throw new UsageError(`--alg must be one of ${SIGNING_ALGS.join(', ')}`)
  }
  const activateIn = o.activateIn === undefined ? 60 : Number(o.activateIn)
  if (!Number.isInteger(activateIn) || activateIn < 0 || activateIn > 30 * 86_400) {
    throw new UsageError('--activate-in must be a whole number of seconds (0 to 2592000)')
  }
  await withStore(o.db, async (store) => {
    const at = now()
    const key = await rotateSigningKey(store, {
      alg,
      now: at,
      activateIn,
      keyEncryptionSecret: process.env.LATCHKEY_KEY_ENCRYPTION_SECRET || undefined,
    })
    printJSON(keyJSON(key, await store.listKeys(), at))
  })
}

export async function retireKey(o: { db?: string; kid: string }): Promise<void> {
  await withStore(o.db, async (store) => {
    const at = now()
    const key = await retireSigningKey(store, o.kid, at)
    printJSON(keyJSON(key, await store.listKeys(), at))
  })
}
