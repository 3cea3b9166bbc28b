/**
 * The keys a server signs and verifies with, loaded from the store and reloaded as other processes
 * (the CLI, other nodes) rotate or retire them.
 */
import type { KeyObject } from 'node:crypto'
import type { JWK } from 'jose'
import {
  SIGNING_ALGS,
  type KeyStore,
  type SigningAlg,
  type SigningKeyRecord,
} from '../store/types.js'
import { JWTSigner, JWTVerificationKey } from './jwt.js'
import { isPublished, openPrivateKey, pickSigningKey } from './keys.js'

export interface KeyRingOptions {
  keyEncryptionSecret?: string | undefined
  /** The algorithm of access tokens (the signing-alg setting), whose key `signer()` gives; ES256 by default. */
  accessTokenAlg?: SigningAlg
  /** Seconds since the epoch. */
  clock: () => number
}

export class KeyRing {
  private records: SigningKeyRecord[] = []
  private readonly verifiers = new Map<string, JWTVerificationKey>()
  private readonly signers = new Map<string, JWTSigner>()
  private readonly privateKeys = new Map<string, KeyObject>()

  private constructor(
    private readonly store: KeyStore,
    private readonly options: KeyRingOptions,
  ) {}

  /** Loads every key; throws `ConfigError` when a sealed key cannot be opened. */
  static async load(store: KeyStore, options: KeyRingOptions): Promise<KeyRing> {
    const ring = new KeyRing(store, options)
    await ring.reload()
    return ring
  }

  /** Re-reads the keys from the store. Private keys already opened are kept, not re-derived. */
  async reload(): Promise<void> {
    const records = await this.store.listKeys()
    const now = this.options.clock()
    for (const record of records) {
      if (record.retiredAt !== null) continue
      if (!this.verifiers.has(record.kid)) {
        this.verifiers.set(record.kid, new JWTVerificationKey(record.publicJwk, record.alg))
      }
      const mightSign = record.publishedUntil === null || record.publishedUntil > now
      if (mightSign && !this.privateKeys.has(record.kid)) {
        this.privateKeys.set(record.kid, openPrivateKey(record, this.options.keyEncryptionSecret))
      }
    }
    this.records = records
  }

  /**
   * The access-token signer for `now` (the key of the access-token alg's lineage), or `undefined` when
   * no key of that alg has activated.
   */
  signer(now = this.options.clock()): JWTSigner | undefined {
    return this.signerFor(this.options.accessTokenAlg ?? 'ES256', now)
  }

  /** The signer of `alg`'s lineage at `now`, or `undefined` when no key of that alg has activated. */
  signerFor(alg: SigningAlg, now = this.options.clock()): JWTSigner | undefined {
    const record = pickSigningKey(this.records, now, alg)
    if (!record) return undefined
    let signer = this.signers.get(record.kid)
    if (!signer) {
      const key = this.privateKeys.get(record.kid)
      if (!key) return undefined
      signer = new JWTSigner(key, record.kid, record.alg)
      this.signers.set(record.kid, signer)
    }
    return signer
  }

  /** The key for `kid` if it is published at `now`: retired and expired keys verify nothing. */
  verificationKey(kid: string, now = this.options.clock()): JWTVerificationKey | undefined {
    const record = this.records.find((r) => r.kid === kid)
    if (!record || !isPublished(record, now)) return undefined
    return this.verifiers.get(kid)
  }

  /** The JWK Set (RFC 7517 §5) at `now`. */
  jwks(now = this.options.clock()): { keys: JWK[] } {
    return { keys: this.records.filter((r) => isPublished(r, now)).map((r) => r.publicJwk) }
  }

  /** The algorithms that have a key signing at `now`, in the order of `SIGNING_ALGS`. */
  signingAlgs(now = this.options.clock()): SigningAlg[] {
    return SIGNING_ALGS.filter((alg) => pickSigningKey(this.records, now, alg) !== undefined)
  }

  /** Every key record as last loaded. */
  list(): readonly SigningKeyRecord[] {
    return this.records
  }
}
