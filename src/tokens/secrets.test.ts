import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { SecretVerifier, generateSecret, hashSecret, verifySecret } from './secrets.js'

const cheap = { logN: 10, r: 8, p: 1 }

describe('secret hashing', () => {
  it('generates 256-bit base64url secrets, all different', () => {
    const a = generateSecret()
    assert.match(a, /^[A-Za-z0-9_-]{43}$/)
    assert.notEqual(a, generateSecret())
  })

  it('stores scrypt with its parameters and a salt, and verifies only the right secret', async () => {
    const hash = await hashSecret('a secret of twenty chars', cheap)
    assert.match(hash, /^scrypt\$10\$8\$1\$[A-Za-z0-9_-]{22}\$[A-Za-z0-9_-]{43}$/)
    assert.notEqual(hash, await hashSecret('a secret of twenty chars', cheap), 'salted')
    assert.equal(await verifySecret('a secret of twenty chars', hash), true)
    assert.equal(await verifySecret('a secret of twenty chars!', hash), false)
    assert.equal(await verifySecret('', hash), false)
  })

  it('uses 2^15 for client secrets by default', async () => {
    assert.match(await hashSecret('x'.repeat(20)), /^scrypt\$15\$8\$1\$/)
  })

  it('never matches a malformed or absurd stored hash', async () => {
    for (const stored of [
      '',
      'plain',
      'scrypt$10$8$1$salt',
      'scrypt$40$8$1$AAAA$AAAA',
      'bcrypt$x$y$z$a$b',
    ]) {
      assert.equal(await verifySecret('anything', stored), false)
    }
  })
})

describe('SecretVerifier', () => {
  it('remembers a verified secret but not a wrong one, and forgets it when the hash changes', async () => {
    const verifier = new SecretVerifier()
    const hash = await hashSecret('the right secret value', cheap)
    assert.equal(await verifier.verify('c', 'the right secret value', hash), true)
    assert.equal(await verifier.verify('c', 'the right secret value', hash), true)
    assert.equal(await verifier.verify('c', 'a wrong secret value!!', hash), false)
    const rotated = await hashSecret('a brand new secret value', cheap)
    assert.equal(await verifier.verify('c', 'the right secret value', rotated), false)
    assert.equal(await verifier.verify('c', 'a brand new secret value', rotated), true)
  })

  it('never authenticates an unknown client', async () => {
    assert.equal(await new SecretVerifier().verify('ghost', 'whatever secret value', null), false)
  })

  it('runs one hash for a burst of the same credentials', async () => {
    const verifier = new SecretVerifier()
    const hash = await hashSecret('burst secret value 123', { logN: 14, r: 8, p: 1 })
    const started = Date.now()
    const single = await new SecretVerifier().verify('c', 'burst secret value 123', hash)
    const one = Date.now() - started
    const t = Date.now()
    const results = await Promise.all(
      Array.from({ length: 16 }, () => verifier.verify('c', 'burst secret value 123', hash)),
    )
    const burst = Date.now() - t
    assert.equal(single, true)
    assert.ok(results.every(Boolean))
    // Sixteen separate hashes on a 4-thread pool would take about 4x one; one shared hash about 1x.
    assert.ok(burst < one * 3 + 20, `burst ${burst} ms vs one ${one} ms`)
  })
})
