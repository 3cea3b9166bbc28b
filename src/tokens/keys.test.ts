import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { ConfigError } from '../errors.js'
import type { SigningKeyRecord } from '../store/types.js'
import {
  generateSigningKey,
  isPublished,
  keyState,
  openPrivateKey,
  pickSigningKey,
} from './keys.js'

const NOW = 1_800_000_000

function record(overrides: Partial<SigningKeyRecord>): SigningKeyRecord {
  return {
    kid: 'k',
    alg: 'ES256',
    publicJwk: {},
    privateKey: '',
    createdAt: NOW - 100,
    activatesAt: NOW - 100,
    supersededAt: null,
    publishedUntil: null,
    retiredAt: null,
    ...overrides,
  }
}

describe('signing keys', () => {
  it('names a key by its RFC 7638 thumbprint and publishes only the public part', async () => {
    const key = await generateSigningKey({ alg: 'ES256', now: NOW })
    assert.match(key.kid, /^[A-Za-z0-9_-]{43}$/)
    assert.equal(key.publicJwk.kid, key.kid)
    assert.equal(key.publicJwk.use, 'sig')
    assert.equal(key.publicJwk.d, undefined)
    assert.match(key.privateKey, /BEGIN PRIVATE KEY/)
  })

  it('seals the private key with the key-encryption secret, bound to its kid', async () => {
    const secret = 'a long key-encryption secret'
    const key = await generateSigningKey({ alg: 'EdDSA', now: NOW, keyEncryptionSecret: secret })
    assert.match(key.privateKey, /^sealed:v1:/)
    assert.equal(openPrivateKey(key, secret).asymmetricKeyType, 'ed25519')
    assert.throws(() => openPrivateKey(key, undefined), ConfigError)
    assert.throws(() => openPrivateKey(key, 'not the secret at all'), ConfigError)
    assert.throws(() => openPrivateKey({ ...key, kid: 'another-kid' }, secret), ConfigError)
  })

  it('moves through pending, active, superseded, expired and retired', () => {
    const old = record({ kid: 'old', supersededAt: NOW + 10, publishedUntil: NOW + 25 })
    const k = record({ activatesAt: NOW + 10, supersededAt: NOW + 20, publishedUntil: NOW + 30 })
    const next = record({ kid: 'next', activatesAt: NOW + 20 })
    const keys = [old, k, next]
    assert.equal(keyState(k, keys, NOW), 'pending')
    assert.equal(keyState(k, keys, NOW + 10), 'active')
    assert.equal(keyState(k, keys, NOW + 20), 'superseded')
    assert.equal(keyState(k, keys, NOW + 30), 'expired')
    assert.equal(keyState({ ...k, retiredAt: NOW }, keys, NOW), 'retired')
    assert.equal(isPublished(k, NOW), true, 'published before it signs')
    assert.equal(isPublished(k, NOW + 29), true)
    assert.equal(isPublished(k, NOW + 30), false)
  })

  it('lists as active only the key that signs, and a cancelled pending key as superseded', () => {
    // `rotate` (next, due in 60 s), then `rotate --activate-in 0` (now): the store supersedes both
    // older keys at the newest key's activation.
    const old = record({ kid: 'old', supersededAt: NOW, publishedUntil: NOW + 420 })
    const next = record({ kid: 'next', activatesAt: NOW + 60, supersededAt: NOW })
    const newest = record({ kid: 'newest', activatesAt: NOW })
    const keys = [old, next, newest]
    for (const at of [NOW, NOW + 60, NOW + 1000]) {
      assert.equal(pickSigningKey(keys, at, 'ES256')?.kid, 'newest')
      assert.deepEqual(
        keys.map((k) => keyState(k, keys, at)),
        [at < NOW + 420 ? 'superseded' : 'expired', 'superseded', 'active'],
      )
    }
  })

  it('signs with the key whose interval holds now and never with a pending or retired one', () => {
    const old = record({ kid: 'old', activatesAt: NOW - 100, supersededAt: NOW + 50 })
    const next = record({ kid: 'next', activatesAt: NOW + 50 })
    assert.equal(pickSigningKey([old, next], NOW, 'ES256')?.kid, 'old')
    assert.equal(pickSigningKey([old, next], NOW + 50, 'ES256')?.kid, 'next')
    assert.equal(pickSigningKey([{ ...old, retiredAt: NOW }], NOW, 'ES256'), undefined)
  })

  it('picks per alg: each alg has its own active key, and an alg without keys has none', () => {
    const es = record({ kid: 'es' })
    const rs = record({ kid: 'rs', alg: 'RS256', createdAt: NOW - 50, activatesAt: NOW - 50 })
    const keys = [es, rs]
    assert.equal(pickSigningKey(keys, NOW, 'ES256')?.kid, 'es')
    assert.equal(pickSigningKey(keys, NOW, 'RS256')?.kid, 'rs')
    assert.equal(pickSigningKey(keys, NOW, 'PS256'), undefined)
    assert.deepEqual(
      keys.map((k) => keyState(k, keys, NOW)),
      ['active', 'active'],
    )
  })
})
