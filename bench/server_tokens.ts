/**
 * Access tokens signed with a running server's own key, read from its database as a second node would
 * read it: what the SDK benchmarks verify, made without asking the server for each one.
 */
import { openStore } from '../src/store/index.js'
import type { AccessTokenClaims } from '../src/tokens/jwt.js'
import { KeyRing } from '../src/tokens/key_ring.js'

/** `count` tokens of the server at `db`, the i-th with `claims(i, now)` (`now` in seconds). */
export async function signWithServerKey(
  db: string,
  count: number,
  claims: (i: number, now: number) => AccessTokenClaims,
): Promise<string[]> {
  const store = await openStore(db)
  try {
    const now = Math.floor(Date.now() / 1000)
    const signer = (await KeyRing.load(store, { clock: () => now })).signer()
    if (!signer) throw new Error('no signing key')
    const tokens: string[] = []
    for (let i = 0; i < count; i++) tokens.push(await signer.sign(claims(i, now)))
    return tokens
  } finally {
    await store.close()
  }
}
