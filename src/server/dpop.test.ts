import assert from 'node:assert/strict'
import { generateKeyPairSync, sign } from 'node:crypto'
import { describe, it } from 'node:test'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { lowS } from '@latchkey/verifier/jwt'
import { client } from '../../test/store/fixtures.js'
import { OAuthError } from '../errors.js'
import type { ServerContext } from './context.js'
import { DPOP_NONCE_WINDOW_SECONDS, DpopNonces, tokenRequestProof } from './dpop.js'

const ISSUER = 'https://auth.example'
const HTU = `${ISSUER}/token`
const T0 = 1_700_000_040

const b64u = (v: unknown): string => Buffer.from(JSON.stringify(v)).toString('base64url')

/** An ES256 proof for POST HTU with `claims` added. */
function makeProof(claims: Record<string, unknown>, iat: number): string {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  const { kty, crv, x, y } = publicKey.export({ format: 'jwk' })
  const input = `${b64u({ typ: 'dpop+jwt', alg: 'ES256', jwk: { kty, crv, x, y } })}.${b64u({
    jti: crypto.randomUUID(),
    htm: 'POST',
    htu: HTU,
    iat,
    ...claims,
  })}`
  const signature = sign('sha256', Buffer.from(input), {
    key: privateKey,
    dsaEncoding: 'ieee-p1363',
  })
  lowS(signature)
  return `${input}.${signature.toString('base64url')}`
}

/** What `tokenRequestProof` reads, with a clock, a memory `useOnce` and nonces on or off. */
function setup(now: () => number, dpopNonce: boolean) {
  const used = new Set<string>()
  const ctx = {
    config: { issuer: ISSUER, dpopNonce },
    clock: now,
    dpopNonces: new DpopNonces({ issuer: ISSUER, keyEncryptionSecret: 'a secret of 16+ chars' }),
    store: {
      useOnce: (kind: string, key: string) => {
        const name = `${kind}/${key}`
        if (used.has(name)) return Promise.resolve(false)
        used.add(name)
        return Promise.resolve(true)
      },
    },
  } as unknown as ServerContext
  const headers: Record<string, string> = {}
  const reply = {
    header(name: string, value: string) {
      headers[name] = value
      return reply
    },
  } as unknown as FastifyReply
  const run = (proof: string | undefined, requireDpop = false) =>
    tokenRequestProof(
      { headers: proof === undefined ? {} : { dpop: proof } } as unknown as FastifyRequest,
      reply,
      client('svc', { requireDpop }),
      HTU,
      ctx,
    )
  return { ctx, headers, run }
}

const refusal = (code: string) => (err: unknown) => err instanceof OAuthError && err.code === code

describe('DPoP server nonces', () => {
  it('are the same on every node with the same settings, and differ with another secret', () => {
    const one = new DpopNonces({ issuer: ISSUER, keyEncryptionSecret: 'a secret of 16+ chars' })
    const two = new DpopNonces({ issuer: ISSUER, keyEncryptionSecret: 'a secret of 16+ chars' })
    const other = new DpopNonces({ issuer: ISSUER, keyEncryptionSecret: 'another secret, 16+' })
    assert.equal(one.current(T0), two.current(T0))
    assert.notEqual(one.current(T0), other.current(T0))
    assert.match(one.current(T0), /^[A-Za-z0-9_-]{43}$/)
  })

  it('accept the current window and the one before, not older', () => {
    const nonces = new DpopNonces({ issuer: ISSUER, keyEncryptionSecret: undefined })
    const before = nonces.current(T0)
    const next = T0 + DPOP_NONCE_WINDOW_SECONDS
    assert.deepEqual(nonces.accepted(next), [nonces.current(next), before])
    assert.ok(!nonces.accepted(next + DPOP_NONCE_WINDOW_SECONDS).includes(before))
  })
})

describe('the DPoP proof of a token request', () => {
  it('is null without a header, unless the client must use DPoP', async () => {
    const { run } = setup(() => T0, false)
    assert.equal(await run(undefined), null)
    await assert.rejects(run(undefined, true), refusal('invalid_dpop_proof'))
  })

  it('is accepted once, then refused as a replay', async () => {
    const { run } = setup(() => T0, false)
    const proof = makeProof({}, T0)
    assert.equal(typeof (await run(proof))?.jkt, 'string')
    await assert.rejects(run(proof), refusal('invalid_dpop_proof'))
  })

  it('with nonces on: use_dpop_nonce and a DPoP-Nonce without one; the next nonce once the window moves', async () => {
    let now = T0
    const { ctx, headers, run } = setup(() => now, true)
    await assert.rejects(run(makeProof({}, now)), refusal('use_dpop_nonce'))
    const given = headers['dpop-nonce']!
    assert.equal(given, ctx.dpopNonces.current(now))
    delete headers['dpop-nonce']
    await run(makeProof({ nonce: given }, now))
    assert.equal(headers['dpop-nonce'], undefined, 'the current nonce: nothing new to say')
    now += DPOP_NONCE_WINDOW_SECONDS
    await run(makeProof({ nonce: given }, now))
    assert.equal(
      headers['dpop-nonce'],
      ctx.dpopNonces.current(now),
      'the previous nonce: the next one',
    )
    now += DPOP_NONCE_WINDOW_SECONDS
    await assert.rejects(run(makeProof({ nonce: given }, now)), refusal('use_dpop_nonce'))
  })
})
