/**
 * The signature thread answers every check as `verifySync` does, for every algorithm, under
 * concurrency, after a crash and after `close`; and it neither keeps a process alive when idle nor
 * lets it exit with a check in flight.
 */
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { sign, type KeyObject } from 'node:crypto'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { algParams, JWTVerificationKey, lowS, type SigningAlg } from './jwt.js'
import { fuzzParameters } from './testing/fuzz.js'
import { keyPairFor } from './testing/keys.js'
import { SignatureWorker } from './signature_worker.js'

interface Signer {
  key: JWTVerificationKey
  sign: (input: string) => Buffer
}

function signer(alg: SigningAlg, kid: string): Signer {
  const pair = keyPairFor(alg)
  const privateKey: KeyObject = pair.privateKey
  const { digest, options } = algParams(alg)
  return {
    key: new JWTVerificationKey({ ...pair.publicKey.export({ format: 'jwk' }), kid }, alg),
    sign: (input) => {
      const signature = sign(digest, Buffer.from(input), { key: privateKey, ...options })
      if (alg === 'ES256') lowS(signature)
      return signature
    },
  }
}

const signers = (['ES256', 'RS256', 'PS256', 'EdDSA'] as const).map((alg) => signer(alg, alg))

/** Valid and invalid checks for every key, with what `verifySync` answers for each. */
function cases(): { key: JWTVerificationKey; input: string; signature: Buffer; want: boolean }[] {
  return signers.flatMap(({ key, sign }, k) => {
    const input = `eyJ${k}.payload-${Math.random().toString(36).slice(2)}`
    const signature = sign(input)
    const flipped = Buffer.from(signature)
    flipped[7]! ^= 1
    const other = signers[(k + 1) % signers.length]!.sign(input)
    return [
      { key, input, signature, want: true },
      { key, input: `${input}x`, signature, want: false },
      { key, input, signature: flipped, want: false },
      { key, input, signature: signature.subarray(1), want: false },
      { key, input, signature: other, want: false },
    ]
  })
}

describe('signature checks on the verifier thread', () => {
  it('answers as verifySync does, for every algorithm, many checks at once', async () => {
    const worker = new SignatureWorker()
    try {
      const all = Array.from({ length: 10 }, cases).flat()
      for (const c of all) assert.equal(c.key.verifySync(c.input, c.signature), c.want)
      const got = await Promise.all(all.map((c) => worker.verify(c.key, c.input, c.signature)))
      assert.deepEqual(
        got,
        all.map((c) => c.want),
      )
      // Every canonical one was checked on the thread (the rest were refused before it).
      assert.ok(worker.answered >= all.length * 0.6, `answered ${worker.answered}`)
    } finally {
      worker.close()
    }
  })

  it('refuses the high-s twin of a valid ES256 signature without asking the thread', async () => {
    const worker = new SignatureWorker()
    try {
      const { key, sign } = signers[0]!
      const input = 'eyJ.twin'
      const signature = sign(input)
      const n = BigInt('0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551')
      const s = BigInt(`0x${signature.subarray(32).toString('hex')}`)
      const twin = Buffer.concat([
        signature.subarray(0, 32),
        Buffer.from((n - s).toString(16).padStart(64, '0'), 'hex'),
      ])
      assert.equal(await worker.verify(key, input, signature), true)
      assert.equal(await worker.verify(key, input, twin), false)
      assert.equal(worker.answered, 1)
    } finally {
      worker.close()
    }
  })

  it('any change to a signed input or its signature is refused, as verifySync refuses it', async () => {
    const worker = new SignatureWorker()
    const { key, sign } = signers[0]!
    const input = 'eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0'
    const signature = sign(input)
    try {
      await fc.assert(
        fc.asyncProperty(
          fc.nat(input.length - 1),
          fc.nat(63),
          fc.integer({ min: 1, max: 255 }),
          fc.boolean(),
          async (at, byte, mask, onInput) => {
            const changedInput = onInput
              ? input.slice(0, at) +
                String.fromCharCode(input.charCodeAt(at) ^ (mask & 0x3f || 1)) +
                input.slice(at + 1)
              : input
            const changedSignature = Buffer.from(signature)
            if (!onInput) changedSignature[byte]! ^= mask
            const want = key.verifySync(changedInput, changedSignature)
            assert.equal(want, false)
            assert.equal(await worker.verify(key, changedInput, changedSignature), want)
          },
        ),
        fuzzParameters(),
      )
    } finally {
      worker.close()
    }
  })

  it('answers the checks a crashed thread held, and later ones, on the pool', async () => {
    const worker = new SignatureWorker()
    const all = cases()
    const first = all.map((c) => worker.verify(c.key, c.input, c.signature))
    await worker.crashForTest()
    assert.deepEqual(
      await Promise.all(first),
      all.map((c) => c.want),
    )
    const later = await Promise.all(all.map((c) => worker.verify(c.key, c.input, c.signature)))
    assert.deepEqual(
      later,
      all.map((c) => c.want),
    )
    worker.close()
  })

  it('answers after close, on the pool', async () => {
    const worker = new SignatureWorker()
    const all = cases()
    assert.deepEqual(
      await Promise.all(all.map((c) => worker.verify(c.key, c.input, c.signature))),
      all.map((c) => c.want),
    )
    const answered = worker.answered
    worker.close()
    assert.deepEqual(
      await Promise.all(all.map((c) => worker.verify(c.key, c.input, c.signature))),
      all.map((c) => c.want),
    )
    assert.equal(worker.answered, answered)
  })

  it('keeps a process alive while a check is in flight, and not after', () => {
    // A script with nothing else to wait for: without a reference while the check is in flight it
    // would exit before the answer; with one kept after, it would never exit.
    const script = `
      import { generateKeyPairSync, sign } from 'node:crypto'
      import { JWTVerificationKey, lowS } from ${JSON.stringify(new URL('./jwt.js', import.meta.url).href)}
      import { SignatureWorker } from ${JSON.stringify(new URL('./signature_worker.js', import.meta.url).href)}
      const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' })
      const key = new JWTVerificationKey({ ...publicKey.export({ format: 'jwk' }), kid: 'k' }, 'ES256')
      const signature = sign('sha256', Buffer.from('a.b'), { key: privateKey, dsaEncoding: 'ieee-p1363' })
      lowS(signature)
      const worker = new SignatureWorker()
      worker.verify(key, 'a.b', signature).then((valid) => console.log('valid', valid, worker.answered))
    `
    const run = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
      encoding: 'utf8',
      timeout: 20_000,
    })
    assert.equal(run.error, undefined, 'the process exited by itself')
    assert.equal(run.status, 0, run.stderr)
    assert.equal(run.stdout.trim(), 'valid true 1')
  })
})
