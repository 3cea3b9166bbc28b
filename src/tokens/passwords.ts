/**
 * User passwords: argon2id at OWASP's parameters (m = 19 MiB, t = 2, p = 1), from `@node-rs/argon2`.
 * About 15 ms per verification here, on libuv's thread pool. Every hash goes through the process's
 * hashing gate (`./hashing.ts`, shared with client secrets), so no caller can make the server hash
 * without limit: past it, `HasherBusy` is thrown and the login answers 503.
 *
 * @see https://cheatsheetseries.owasp.org/cheatsheets/Password_Storage_Cheat_Sheet.html
 */
import { Algorithm, hash, verify } from '@node-rs/argon2'
import { hashing } from './hashing.js'

const OPTIONS = { algorithm: Algorithm.Argon2id, memoryCost: 19_456, timeCost: 2, parallelism: 1 }

export { HasherBusy, MAX_CONCURRENT, MAX_QUEUED } from './hashing.js'
export const MAX_PASSWORD_LENGTH = 1024

/** The argon2id hash of `password` in PHC string form. */
export function hashPassword(password: string): Promise<string> {
  return hashing.run(() => hash(password.normalize('NFC'), OPTIONS))
}

let decoy: Promise<string> | undefined

/**
 * Whether `password` matches `encoded`; pass `null` for an unknown user, which costs the same and never
 * matches. A malformed hash never matches. Over-long passwords are refused without hashing. `onHash` is
 * called when the hash runs (a metric). Throws `HasherBusy` when too many hashes are running or waiting.
 */
export async function verifyPassword(
  password: string,
  encoded: string | null,
  onHash: () => void = () => {},
): Promise<boolean> {
  if (password.length > MAX_PASSWORD_LENGTH) return false
  const ok = await hashing.run(async () => {
    // The decoy is made once, in the first unknown user's slot: it is not a hash of its own to queue.
    const target =
      encoded ?? (await (decoy ??= hash('decoy password that matches nothing', OPTIONS)))
    onHash()
    try {
      return await verify(target, password.normalize('NFC'))
    } catch {
      return false
    }
  })
  return ok && encoded !== null
}
