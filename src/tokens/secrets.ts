/**
 * Client secrets (user passwords are `./passwords.ts`'): generated from the CSPRNG, stored only as scrypt hashes, and
 * compared in constant time.
 *
 * Stored form: `scrypt$<log2 N>$<r>$<p>$<salt b64url>$<hash b64url>`, so the cost can change without a
 * migration. A database copy yields no usable secret: a supplied secret (at least 20 characters, maybe
 * chosen by a person) is protected by the memory-hard hash, a generated one by its 256 bits.
 *
 * scrypt costs tens of milliseconds; a token endpoint that paid it per request would be capped at a few
 * dozen requests per second per core. So a verified secret is remembered in memory as an HMAC under a
 * per-process random key (`SecretVerifier`): a client that presents the same secret again costs one HMAC
 * and one constant-time comparison. Wrong secrets always take the slow path, which the rate limiter bounds
 * per address and `./hashing.ts` bounds for the whole process.
 */
import {
  createHmac,
  randomBytes,
  scrypt as scryptCallback,
  timingSafeEqual,
  type ScryptOptions,
} from 'node:crypto'
import { BoundedCache } from '../cache/bounded.js'
import { hashing } from './hashing.js'

export interface ScryptCost {
  /** log2 of N. */
  logN: number
  r: number
  p: number
}

/** For client secrets: 2^15 × 8 × 128 B = 32 MiB, about 50 ms here. */
const CLIENT_SECRET_COST: ScryptCost = { logN: 15, r: 8, p: 1 }

const KEY_LENGTH = 32

function scrypt(secret: string, salt: Buffer, cost: ScryptCost): Promise<Buffer> {
  const N = 2 ** cost.logN
  const options: ScryptOptions = {
    N,
    r: cost.r,
    p: cost.p,
    maxmem: 128 * N * cost.r + 16 * 1024 * 1024,
  }
  return new Promise((resolve, reject) => {
    scryptCallback(secret.normalize('NFC'), salt, KEY_LENGTH, options, (err, key) => {
      if (err) reject(err)
      else resolve(key)
    })
  })
}

/** A new client secret: 256 bits, base64url (43 characters). */
export function generateSecret(): string {
  return randomBytes(32).toString('base64url')
}

/** Hashes a secret for storage. */
export async function hashSecret(
  secret: string,
  cost: ScryptCost = CLIENT_SECRET_COST,
): Promise<string> {
  const salt = randomBytes(16)
  const key = await scrypt(secret, salt, cost)
  return [
    'scrypt',
    cost.logN,
    cost.r,
    cost.p,
    salt.toString('base64url'),
    key.toString('base64url'),
  ].join('$')
}

interface ParsedHash {
  cost: ScryptCost
  salt: Buffer
  key: Buffer
}

function parseHash(encoded: string): ParsedHash | null {
  const parts = encoded.split('$')
  if (parts.length !== 6 || parts[0] !== 'scrypt') return null
  const [logN, r, p] = [Number(parts[1]), Number(parts[2]), Number(parts[3])]
  if (![logN, r, p].every((n) => Number.isInteger(n) && n > 0) || logN > 20 || r > 32 || p > 16) {
    return null
  }
  return {
    cost: { logN, r, p },
    salt: Buffer.from(parts[4] ?? '', 'base64url'),
    key: Buffer.from(parts[5] ?? '', 'base64url'),
  }
}

/**
 * Whether `secret` matches `encoded`, compared in constant time. A malformed stored hash never matches.
 * Does not throttle: callers rate-limit failures.
 */
export async function verifySecret(secret: string, encoded: string): Promise<boolean> {
  const parsed = parseHash(encoded)
  if (!parsed || parsed.key.length !== KEY_LENGTH) return false
  const key = await scrypt(secret, parsed.salt, parsed.cost)
  return timingSafeEqual(key, parsed.key)
}

/** A hash of a secret nobody knows, verified against when a client is unknown so timing matches. */
let decoyHash: Promise<string> | undefined
function decoy(): Promise<string> {
  decoyHash ??= hashSecret(generateSecret())
  return decoyHash
}

/**
 * Verifies client secrets with a memory of recent successes (see the module comment). The memory is
 * keyed by client id and bound to the stored hash, so a changed or deleted client is verified afresh.
 */
export class SecretVerifier {
  private readonly macKey = randomBytes(32)
  /** The last secret verified per client (least recently used dropped first when full). */
  private readonly verified: BoundedCache<string, { encoded: string; mac: Buffer }>
  /** Slow verifications under way, by client and presented secret, so a burst costs one scrypt. */
  private readonly pending = new Map<string, Promise<boolean>>()

  /**
   * `onHash` is called for every scrypt this verifier runs (a metric); `capacity` bounds the memory of
   * verified secrets.
   */
  constructor(
    private readonly onHash: () => void = () => {},
    capacity = 10_000,
  ) {
    this.verified = new BoundedCache(capacity)
  }

  /** One scrypt, through the process's hashing gate: throws `HasherBusy` when it is full. */
  private slow(secret: string, encoded: () => string | Promise<string>): Promise<boolean> {
    return hashing.run(async () => {
      // The decoy is made once, in the first unknown client's slot: not a hash of its own to queue.
      const target = await encoded()
      this.onHash()
      return verifySecret(secret, target)
    })
  }

  private mac(secret: string): Buffer {
    return createHmac('sha256', this.macKey).update(secret).digest()
  }

  private flightKey(clientId: string, mac: Buffer, encoded: string): string {
    return `${clientId}\u0000${mac.toString('base64url')}\u0000${encoded}`
  }

  /**
   * The answer when it costs no new hash: `secret` was verified before against this same stored hash,
   * or a check of the same secret against it is under way; `undefined` when only a new hash can tell
   * (always for an unknown client, `encoded` `null`).
   */
  withoutHash(
    clientId: string,
    secret: string,
    encoded: string | null,
  ): Promise<boolean> | undefined {
    return this.known(clientId, secret, encoded)
  }

  private known(
    clientId: string,
    secret: string,
    encoded: string | null,
  ): Promise<boolean> | undefined {
    if (encoded === null) return undefined
    const mac = this.mac(secret)
    const remembered = this.verified.get(clientId)
    if (remembered && remembered.encoded === encoded && timingSafeEqual(remembered.mac, mac)) {
      return Promise.resolve(true)
    }
    return this.pending.get(this.flightKey(clientId, mac, encoded))
  }

  /**
   * Whether `secret` is the secret of the client whose stored hash is `encoded`; pass `null` for an
   * unknown client, which costs the same (and waits in the same queue) and never matches. Throws
   * `HasherBusy` when a hash is needed and too many are running or waiting already.
   */
  verify(clientId: string, secret: string, encoded: string | null): Promise<boolean> {
    const known = this.known(clientId, secret, encoded)
    if (known !== undefined) return known
    if (encoded === null) return this.slow(secret, decoy).then(() => false)
    const mac = this.mac(secret)
    const flightKey = this.flightKey(clientId, mac, encoded)
    const flight = this.slow(secret, () => encoded)
      .then((ok) => {
        if (ok) this.remember(clientId, encoded, mac)
        return ok
      })
      .finally(() => this.pending.delete(flightKey))
    this.pending.set(flightKey, flight)
    return flight
  }

  private remember(clientId: string, encoded: string, mac: Buffer): void {
    this.verified.set(clientId, { encoded, mac })
  }
}
