import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { after, before, describe, it } from 'node:test'
import { createVerifier, VerifierError, type VerifiedClaims } from '@latchkey/verifier'
import {
  cli,
  createClient,
  freePort,
  sleep,
  startServer,
  tempDir,
  type CreatedClient,
  type TestServer,
} from '../helpers/server.js'
import { otherSpellings, withTwinSignature } from '../helpers/token_spellings.js'

type Verifier = ReturnType<typeof createVerifier>

const b64 = (v: unknown): string => Buffer.from(JSON.stringify(v)).toString('base64url')

/** Rejects unless `promise` fails with a VerifierError of `code`; returns it. */
async function refused(promise: Promise<unknown>, code: string): Promise<VerifierError> {
  try {
    await promise
  } catch (err) {
    assert.ok(err instanceof VerifierError, `not a VerifierError: ${String(err)}`)
    assert.equal(err.code, code, err.description)
    return err
  }
  assert.fail(`expected ${code}, but the token was accepted`)
}

/** Yields to I/O between checks, as a real server does between requests, without spinning a core. */
const tick = (): Promise<void> => sleep(2)

/** Verifies until refused with `code` or `ms` pass; returns the milliseconds it took. */
async function untilRefused(v: Verifier, token: string, code: string, ms = 2000): Promise<number> {
  const start = performance.now()
  for (;;) {
    try {
      await v.verify(token)
    } catch (err) {
      if (err instanceof VerifierError && err.code === code) return performance.now() - start
      throw err
    }
    if (performance.now() - start > ms) assert.fail(`not refused with ${code} within ${ms} ms`)
    await tick()
  }
}

describe('verifier SDK against a running server', () => {
  let server: TestServer
  let api: CreatedClient
  let app: CreatedClient
  let opaque: CreatedClient
  let elsewhere: CreatedClient
  let shortLived: CreatedClient
  let verifier: Verifier
  const calls: string[] = []
  const countingFetch: typeof fetch = (input, init) => {
    calls.push(input instanceof Request ? input.url : String(input))
    return fetch(input, init)
  }
  const jwksCalls = (): number => calls.filter((u) => u.endsWith('/jwks.json')).length

  before(async () => {
    server = await startServer({ env: { LATCHKEY_FEED_HEARTBEAT_MS: '500' } })
    const cc = ['--grant', 'client_credentials']
    api = createClient(server.db, 'api', ...cc, '--resource-server')
    app = createClient(server.db, 'app', ...cc, '--scope', 'orders:read orders:write')
    opaque = createClient(
      server.db,
      'op',
      ...cc,
      '--scope',
      'orders:read',
      '--access-token-format',
      'opaque',
    )
    elsewhere = createClient(server.db, 'elsewhere', ...cc, '--audience', 'https://other.example')
    shortLived = createClient(server.db, 'short', ...cc, '--access-token-ttl', '1')
    verifier = createVerifier({
      issuer: server.url,
      audience: server.url,
      clientId: api.client_id,
      clientSecret: api.client_secret,
      clockTolerance: 0,
      jwksCooldown: 1,
      fetch: countingFetch,
    })
    await verifier.ready()
  })
  after(async () => {
    verifier.close()
    await server.dispose()
  })

  async function token(c: CreatedClient, scope?: string): Promise<string> {
    const res = await server.post(
      '/token',
      scope ? { grant_type: 'client_credentials', scope } : { grant_type: 'client_credentials' },
      [c.client_id, c.client_secret],
    )
    assert.equal(res.status, 200, res.text)
    return res.json.access_token as string
  }

  it('verifies a JWT access token and returns its frozen claims', async () => {
    const t = await token(app)
    const claims = await verifier.verify(t)
    assert.equal(claims.iss, server.url)
    assert.equal(claims.sub, 'app')
    assert.equal(claims.client_id, 'app')
    assert.equal(claims.scope, 'orders:read orders:write')
    assert.ok(Object.isFrozen(claims))
    const scoped = await verifier.verify(t, { scopes: ['orders:read', 'orders:write'] })
    assert.equal(scoped.jti, claims.jti)
  })

  it('refuses with invalid_request when no token is given', async () => {
    await refused(verifier.verify(''), 'invalid_request')
  })

  it('refuses with insufficient_scope naming the scope required', async () => {
    const t = await token(app, 'orders:read')
    const err = await refused(
      verifier.verify(t, { scopes: ['orders:write'] }),
      'insufficient_scope',
    )
    assert.equal(err.scope, 'orders:write')
    assert.equal(err.status, 403)
  })

  it('refuses malformed, forged and confused tokens with invalid_token', async () => {
    const good = await token(app)
    const [h, p, s] = good.split('.') as [string, string, string]
    const header = JSON.parse(Buffer.from(h, 'base64url').toString()) as Record<string, string>
    const payload = JSON.parse(Buffer.from(p, 'base64url').toString()) as Record<string, unknown>
    const cases: Record<string, string> = {
      garbage: 'not.a.jwt',
      'two parts': `${h}.${p}`,
      'five parts (JWE)': `${h}.${p}.${s}.${s}.${s}`,
      'alg none': `${b64({ ...header, alg: 'none' })}.${p}.`,
      'alg HS256': `${b64({ ...header, alg: 'HS256' })}.${p}.${s}`,
      'typ JWT': `${b64({ ...header, typ: 'JWT' })}.${p}.${s}`,
      'embedded jwk': `${b64({ ...header, jwk: { kty: 'EC' } })}.${p}.${s}`,
      'changed payload': `${h}.${b64({ ...payload, scope: 'admin' })}.${s}`,
      'zero signature': `${h}.${p}.${Buffer.alloc(64).toString('base64url')}`,
      'opaque junk': 'not an opaque token!',
    }
    for (const [name, forged] of Object.entries(cases)) {
      const err = await refused(verifier.verify(forged), 'invalid_token')
      assert.equal(err.status, 401, name)
      assert.ok(!err.description.includes(s), `${name}: no token material in the description`)
    }
  })

  it('refuses other spellings of a valid token with invalid_token, after caching the token', async () => {
    const good = await token(app)
    await verifier.verify(good)
    const spellings: Record<string, string> = {
      ...otherSpellings(good),
      'n − s twin': withTwinSignature(good),
    }
    assert.ok('signature' in spellings)
    for (const [name, spelled] of Object.entries(spellings)) {
      const err = await refused(verifier.verify(spelled), 'invalid_token')
      assert.equal(err.status, 401, name)
    }
    // The canonical string is still accepted, from the cache.
    await verifier.verify(good)
  })

  it('checks signatures on its own thread when told to offload them, with the same answers', async () => {
    const offloading = createVerifier({
      issuer: server.url,
      audience: server.url,
      clientId: api.client_id,
      clientSecret: api.client_secret,
      offloadSignatureChecks: true,
    })
    try {
      await offloading.ready()
      const tokens = await Promise.all(Array.from({ length: 20 }, () => token(app)))
      const claims = await Promise.all(tokens.map((t) => offloading.verify(t)))
      assert.deepEqual(
        claims.map((c) => c.sub),
        tokens.map(() => 'app'),
      )
      const [h, p, s] = tokens[0]!.split('.') as [string, string, string]
      const payload = JSON.parse(Buffer.from(p, 'base64url').toString()) as object
      const forged = {
        'changed payload': `${h}.${b64({ ...payload, scope: 'admin' })}.${s}`,
        'zero signature': `${h}.${p}.${Buffer.alloc(64).toString('base64url')}`,
        'n − s twin': withTwinSignature(tokens[1]!),
      }
      for (const [name, t] of Object.entries(forged)) {
        const err = await refused(offloading.verify(t), 'invalid_token')
        assert.equal(err.description, 'signature is not valid', name)
      }
      const stats = offloading.stats()
      assert.equal(stats.signatureChecks, 20)
      assert.equal(stats.offloadedChecks, 20)
    } finally {
      offloading.close()
    }
  })

  it('refuses a token for another audience and an expired token', async () => {
    const other = await refused(verifier.verify(await token(elsewhere)), 'invalid_token')
    assert.equal(other.description, 'aud does not match')
    const short = await token(shortLived)
    await verifier.verify(short)
    await sleep(1100)
    const expired = await refused(verifier.verify(short), 'invalid_token')
    assert.equal(expired.description, 'token has expired')
  })

  it('refetches the JWKS for unknown kids at most once per cooldown', async () => {
    const good = await token(app)
    const [, p, s] = good.split('.') as [string, string, string]
    const before = jwksCalls()
    for (let i = 0; i < 30; i++) {
      const forged = `${b64({ alg: 'ES256', typ: 'at+jwt', kid: `forged-${i}` })}.${p}.${s}`
      const err = await refused(verifier.verify(forged), 'invalid_token')
      assert.equal(err.description, 'unknown signing key')
    }
    assert.ok(jwksCalls() - before <= 1, `${jwksCalls() - before} JWKS fetches for 30 forged kids`)
    await sleep(1100)
    await refused(
      verifier.verify(`${b64({ alg: 'ES256', typ: 'at+jwt', kid: 'forged-late' })}.${p}.${s}`),
      'invalid_token',
    )
    assert.ok(jwksCalls() - before <= 2)
    // The real key is still there.
    await verifier.verify(good)
  })

  it('answers a repeated token from its cache without another signature check', async () => {
    const t = await token(app)
    await verifier.verify(t)
    const before = verifier.stats()
    const results: VerifiedClaims[] = []
    for (let i = 0; i < 100; i++) results.push(await verifier.verify(t))
    const after = verifier.stats()
    assert.equal(after.signatureChecks, before.signatureChecks)
    assert.equal(after.jwtCacheHits - before.jwtCacheHits, 100)
    assert.ok(results.every((c) => c === results[0]))
  })

  it('answers from its caches alone without a promise, with every check verify makes', async () => {
    const t = await token(app, 'orders:read')
    const o = await token(opaque)
    // Never checked: nothing to answer from.
    assert.equal(verifier.verifyCached(t), undefined)
    assert.equal(verifier.verifyCached(o), undefined)
    const claims = await verifier.verify(t)
    await verifier.verify(o)
    assert.equal(verifier.verifyCached(t), claims)
    assert.equal(verifier.verifyCached(o)?.client_id, 'op')
    assert.equal(verifier.verifyCached(t, { scopes: ['orders:read'] }), claims)
    const refusedNow = (fn: () => unknown, code: string): void =>
      assert.throws(fn, (err) => err instanceof VerifierError && err.code === code)
    refusedNow(() => verifier.verifyCached(t, { scopes: ['orders:write'] }), 'insufficient_scope')
    refusedNow(() => verifier.verifyCached(''), 'invalid_request')
    refusedNow(() => verifier.verifyCached('not an opaque token!'), 'invalid_token')
    // A bearer-scheme request with the DPoP checks on passes as verify lets it.
    const dpop = {
      scheme: 'Bearer' as const,
      proof: undefined,
      htm: 'GET',
      htu: '',
      required: false,
    }
    assert.equal(verifier.verifyCached(t, { dpop }), claims)
    refusedNow(
      () => verifier.verifyCached(t, { dpop: { ...dpop, required: true } }),
      'invalid_token',
    )
    // Revoked at the server: once the feed says so, the cache no longer answers for it.
    const res = await server.post('/revoke', { token: t }, [app.client_id, app.client_secret])
    assert.equal(res.status, 200)
    await untilRefused(verifier, t, 'invalid_token', 1000)
    assert.equal(verifier.verifyCached(t), undefined)
  })

  it('introspects an opaque token once, then answers from its cache', async () => {
    const t = await token(opaque)
    const before = verifier.stats()
    const claims = await Promise.all(Array.from({ length: 5 }, () => verifier.verify(t)))
    assert.equal(claims[0]!.client_id, 'op')
    assert.equal(claims[0]!.scope, 'orders:read')
    for (let i = 0; i < 20; i++) await verifier.verify(t, { scopes: ['orders:read'] })
    const after = verifier.stats()
    assert.equal(after.introspections - before.introspections, 1)
    assert.equal(after.introspectionCacheHits - before.introspectionCacheHits, 20)
    await refused(verifier.verify(t, { scopes: ['orders:write'] }), 'insufficient_scope')
  })

  it('caches an inactive introspection answer briefly', async () => {
    const unknown = 'A'.repeat(43)
    const before = verifier.stats().introspections
    for (let i = 0; i < 5; i++) await refused(verifier.verify(unknown), 'invalid_token')
    assert.equal(verifier.stats().introspections - before, 1)
  })

  it('refuses a JWT revoked at the server within a second, from its cache too', async () => {
    const t = await token(app)
    await verifier.verify(t)
    await verifier.verify(t)
    const res = await server.post('/revoke', { token: t }, [app.client_id, app.client_secret])
    assert.equal(res.status, 200)
    const ms = await untilRefused(verifier, t, 'invalid_token', 1000)
    const err = await refused(verifier.verify(t), 'invalid_token')
    assert.equal(err.description, 'token has been revoked')
    assert.ok(ms < 1000, `${ms} ms`)
  })

  it('drops a cached opaque token when it is revoked', async () => {
    const t = await token(opaque)
    await verifier.verify(t)
    const res = await server.post('/revoke', { token: t }, [opaque.client_id, opaque.client_secret])
    assert.equal(res.status, 200)
    await untilRefused(verifier, t, 'invalid_token', 1000)
  })

  it('refuses every earlier token of a deleted client, and only those', async () => {
    const doomed = createClient(server.db, 'doomed', '--grant', 'client_credentials')
    const t = await token(doomed)
    await verifier.verify(t)
    const deleted = cli(['client', 'delete', '--db', server.db, '--id', 'doomed'])
    assert.equal(deleted.status, 0, deleted.stderr)
    // The CLI writes to the database; the server's follower reads it within its poll interval.
    const ms = await untilRefused(verifier, t, 'invalid_token', 1000)
    assert.ok(ms < 1000)
  })

  it('inspects a token against a running server from the CLI, saying why it is not valid', async () => {
    const env = { LATCHKEY_CLIENT_ID: api.client_id, LATCHKEY_CLIENT_SECRET: api.client_secret }
    const t = await token(app)
    const ok = cli(['token', 'inspect', t, '--issuer', server.url], { env })
    assert.equal(ok.status, 0, ok.stderr)
    const good = ok.json as {
      valid: boolean
      revocations_checked: boolean
      claims: { sub: string }
    }
    assert.equal(good.valid, true)
    assert.equal(good.revocations_checked, true)
    assert.equal(good.claims.sub, 'app')

    await server.post('/revoke', { token: t }, [app.client_id, app.client_secret])
    const revoked = cli(['token', 'inspect', t, '--issuer', server.url], { env })
    assert.equal(revoked.status, 2, revoked.stderr)
    assert.deepEqual(
      { ...(revoked.json as Record<string, unknown>), header: undefined, claims: undefined },
      {
        format: 'jwt',
        valid: false,
        reason: 'token has been revoked',
        revocations_checked: true,
        header: undefined,
        claims: undefined,
      },
    )
    const aud = cli([
      'token',
      'inspect',
      await token(app),
      '--issuer',
      server.url,
      '--audience',
      'https://x.example',
    ])
    assert.equal((aud.json as { reason: string }).reason, 'aud does not match')
    const op = cli(['token', 'inspect', await token(opaque), '--issuer', server.url], { env })
    assert.equal((op.json as { valid: boolean; format: string }).valid, true)
    const noCreds = cli(['token', 'inspect', await token(opaque), '--issuer', server.url])
    assert.match((noCreds.json as { reason: string }).reason, /client credentials/)

    const port = await freePort()
    const down = cli(['token', 'inspect', t, '--issuer', `http://127.0.0.1:${port}`])
    assert.equal(down.status, 1)
    assert.match(
      down.stderr,
      /^latchkey: cannot check the token against http:\/\/127\.0\.0\.1:\d+: /,
    )
    assert.equal(down.stderr.trim().split('\n').length, 1)
  })

  it('can be imported as latchkey/verifier by an application that depends on the package', () => {
    const root = resolve(fileURLToPath(import.meta.url), '../../../..')
    const appDir = mkdtempSync(join(tmpdir(), 'latchkey-consumer-'))
    try {
      mkdirSync(join(appDir, 'node_modules'))
      symlinkSync(root, join(appDir, 'node_modules', 'latchkey'), 'dir')
      writeFileSync(join(appDir, 'package.json'), JSON.stringify({ type: 'module' }))
      writeFileSync(
        join(appDir, 'main.js'),
        `import { createVerifier, VerifierError } from 'latchkey/verifier'
import { expressBearerAuth } from 'latchkey/verifier/express'
import { fastifyBearerAuth } from 'latchkey/verifier/fastify'
import { honoBearerAuth } from 'latchkey/verifier/hono'
const v = createVerifier({ issuer: 'http://127.0.0.1:1', audience: 'a', revocationFeed: false })
v.close()
console.log([typeof createVerifier, typeof VerifierError, typeof expressBearerAuth, typeof fastifyBearerAuth, typeof honoBearerAuth].join(' '))
`,
      )
      const run = spawnSync(process.execPath, ['main.js'], { cwd: appDir, encoding: 'utf8' })
      assert.equal(run.status, 0, run.stderr)
      assert.equal(run.stdout.trim(), 'function function function function function')
    } finally {
      rmSync(appDir, { recursive: true, force: true })
    }
  })
})

describe('verifier SDK when the revocation feed is cut', () => {
  it('fails closed past maxStaleness, recovers by itself, and misses no revocation', async () => {
    const { dir, cleanup } = tempDir()
    const port = await freePort()
    let server = await startServer({ dir, port, env: { LATCHKEY_FEED_HEARTBEAT_MS: '300' } })
    const api = createClient(server.db, 'api', '--grant', 'client_credentials', '--resource-server')
    const app = createClient(server.db, 'app', '--grant', 'client_credentials')
    const options = {
      issuer: server.url,
      audience: server.url,
      clientId: api.client_id,
      clientSecret: api.client_secret,
      maxStaleness: 1,
    }
    const closed = createVerifier(options)
    const open = createVerifier({ ...options, failOpen: true })
    try {
      await closed.ready()
      await open.ready()
      const issue = async (): Promise<string> =>
        (
          await server.post('/token', { grant_type: 'client_credentials' }, [
            app.client_id,
            app.client_secret,
          ])
        ).json.access_token as string
      const kept = await issue()
      const doomed = await issue()
      for (const v of [closed, open]) {
        await v.verify(kept)
        await v.verify(doomed)
      }

      assert.equal(await server.stop(), 0)
      // Within the bound, tokens are still accepted from what is known.
      await closed.verify(kept)
      const stoppedAt = performance.now()
      const ms = await untilRefused(closed, kept, 'temporarily_unavailable', 3000)
      const sinceStop = performance.now() - stoppedAt
      // maxStaleness counts from the last message (a heartbeat every 300 ms), not from the stop.
      assert.ok(
        sinceStop >= 600 && sinceStop < 2500,
        `refused ${sinceStop} ms after the cut (${ms})`,
      )
      const err = await refused(closed.verify(doomed), 'temporarily_unavailable')
      assert.equal(err.status, 503)
      assert.match(err.description, /revocation feed/)
      // Fail open: the same tokens are still accepted.
      await open.verify(kept)

      // Revoked while the server is down: the CLI writes to the database directly.
      const payload = JSON.parse(Buffer.from(doomed.split('.')[1]!, 'base64url').toString()) as {
        sub: string
      }
      assert.equal(payload.sub, 'app')
      const deleted = cli(['client', 'delete', '--db', server.db, '--id', 'app'])
      assert.equal(deleted.status, 0, deleted.stderr)

      server = await startServer({ dir, port, env: { LATCHKEY_FEED_HEARTBEAT_MS: '300' } })
      const start = performance.now()
      for (;;) {
        try {
          await closed.verify(kept)
          assert.fail('a token of the deleted client was accepted after reconnecting')
        } catch (e) {
          assert.ok(e instanceof VerifierError)
          if (e.code === 'invalid_token') break
          assert.equal(e.code, 'temporarily_unavailable')
        }
        assert.ok(performance.now() - start < 5000, 'recovered within 5 s')
        await sleep(20)
      }
      await refused(closed.verify(doomed), 'invalid_token')
      await untilRefused(open, doomed, 'invalid_token', 5000)
      assert.equal(closed.stats().feedLive, true)
    } finally {
      closed.close()
      open.close()
      await server.dispose()
      cleanup()
    }
  })
})
