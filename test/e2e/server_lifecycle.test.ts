import assert from 'node:assert/strict'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify, type JSONWebKeySet } from 'jose'
import {
  cli,
  createClient,
  sleep,
  startServer,
  tempDir,
  type TestServer,
} from '../helpers/server.js'

async function clientToken(server: TestServer, id: string, secret: string): Promise<string> {
  const res = await server.post('/token', { grant_type: 'client_credentials' }, [id, secret])
  assert.equal(res.status, 200, res.text)
  return (res.json as { access_token: string }).access_token
}

async function isActive(
  server: TestServer,
  token: string,
  who: [string, string],
): Promise<boolean> {
  const res = await server.post('/introspect', { token }, who)
  assert.equal(res.status, 200)
  return (res.json as { active: boolean }).active
}

describe('server lifecycle', () => {
  it('creates its database and its signing keys (ES256 access tokens, RS256 ID tokens) on first start', async () => {
    const { dir, cleanup } = tempDir()
    try {
      const server = await startServer({ dir })
      assert.ok(existsSync(join(dir, 'latchkey.db')))
      const jwks = (await server.get('/.well-known/jwks.json')).json as unknown as JSONWebKeySet
      assert.deepEqual(jwks.keys.map((k) => k.alg).sort(), ['ES256', 'RS256'])
      for (const key of jwks.keys) assert.equal(key.d, undefined, 'no private part in the JWKS')
      assert.match(server.output(), /latchkey client create/, 'tells the user what to do next')
      await server.stop()
    } finally {
      cleanup()
    }
  })

  it('keeps clients, keys, live tokens and revocations across a restart', async () => {
    const { dir, cleanup } = tempDir()
    try {
      let server = await startServer({ dir })
      const jwt = createClient(server.db, 'svc', '--grant', 'client_credentials')
      const opaque = createClient(
        server.db,
        'svc-o',
        '--grant',
        'client_credentials',
        '--access-token-format',
        'opaque',
      )
      const api = createClient(
        server.db,
        'api',
        '--grant',
        'client_credentials',
        '--resource-server',
      )
      const who: [string, string] = [api.client_id, api.client_secret]
      const liveJwt = await clientToken(server, jwt.client_id, jwt.client_secret)
      const liveOpaque = await clientToken(server, opaque.client_id, opaque.client_secret)
      const revokedJwt = await clientToken(server, jwt.client_id, jwt.client_secret)
      const revokedOpaque = await clientToken(server, opaque.client_id, opaque.client_secret)
      await server.post('/revoke', { token: revokedJwt }, [jwt.client_id, jwt.client_secret])
      await server.post('/revoke', { token: revokedOpaque }, [
        opaque.client_id,
        opaque.client_secret,
      ])
      const kid = decodeProtectedHeader(liveJwt).kid
      assert.equal(await server.stop(), 0)

      // Same port, so the same issuer: tokens name their issuer.
      server = await startServer({ dir, port: server.port })
      try {
        assert.equal(await isActive(server, liveJwt, who), true)
        assert.equal(await isActive(server, liveOpaque, who), true)
        assert.equal(await isActive(server, revokedJwt, who), false)
        assert.equal(await isActive(server, revokedOpaque, who), false)
        const again = await clientToken(server, jwt.client_id, jwt.client_secret)
        assert.equal(decodeProtectedHeader(again).kid, kid, 'the same signing key after restart')
      } finally {
        await server.stop()
      }
    } finally {
      cleanup()
    }
  })

  it('finishes in-flight requests on SIGTERM, then exits 0', async () => {
    const server = await startServer()
    try {
      const c = createClient(server.db, 'svc', '--grant', 'client_credentials')
      // The first request of a client runs the secret hash (tens of ms): in flight when SIGTERM lands.
      const inFlight = server.post('/token', { grant_type: 'client_credentials' }, [
        c.client_id,
        c.client_secret,
      ])
      await sleep(40)
      const code = server.stop()
      const res = await inFlight
      assert.equal(res.status, 200)
      assert.equal(await code, 0)
      assert.match(server.output(), /SIGTERM/)
    } finally {
      await server.dispose()
    }
  })

  for (const alg of ['RS256', 'PS256', 'EdDSA'] as const) {
    it(`signs with ${alg} when configured, verifiable by jose`, async () => {
      const server = await startServer({ env: { LATCHKEY_SIGNING_ALG: alg } })
      try {
        const c = createClient(server.db, 'svc', '--grant', 'client_credentials')
        const token = await clientToken(server, c.client_id, c.client_secret)
        const jwks = (await server.get('/.well-known/jwks.json')).json as unknown as JSONWebKeySet
        const { protectedHeader } = await jwtVerify(token, createLocalJWKSet(jwks), {
          issuer: server.url,
          typ: 'at+jwt',
          algorithms: [alg],
        })
        assert.equal(protectedHeader.alg, alg)
        const api = createClient(
          server.db,
          'api',
          '--grant',
          'client_credentials',
          '--resource-server',
        )
        assert.equal(await isActive(server, token, [api.client_id, api.client_secret]), true)
      } finally {
        await server.dispose()
      }
    })
  }

  it('rotates keys without a gap: published first, signs later, old tokens still valid; retire withdraws', async () => {
    const server = await startServer()
    try {
      const c = createClient(server.db, 'svc', '--grant', 'client_credentials')
      const api = createClient(
        server.db,
        'api',
        '--grant',
        'client_credentials',
        '--resource-server',
      )
      const who: [string, string] = [api.client_id, api.client_secret]
      const before = await clientToken(server, c.client_id, c.client_secret)
      const oldKid = decodeProtectedHeader(before).kid

      // Times are whole seconds: 4 s leaves room for the checks below before activation.
      const rotated = cli(['keys', 'rotate', '--db', server.db, '--activate-in', '4'])
      assert.equal(rotated.status, 0, rotated.stderr)
      const newKid = (rotated.json as { kid: string }).kid
      await sleep(1300) // the server re-reads keys every second
      const kids = (
        (await server.get('/.well-known/jwks.json')).json as unknown as JSONWebKeySet
      ).keys.map((k) => k.kid)
      assert.ok(kids.includes(newKid), 'the new key is published before it signs')
      assert.ok(kids.includes(oldKid))
      const during = await clientToken(server, c.client_id, c.client_secret)
      assert.equal(decodeProtectedHeader(during).kid, oldKid, 'the old key signs until activation')

      await sleep(3800)
      const afterRotation = await clientToken(server, c.client_id, c.client_secret)
      assert.equal(decodeProtectedHeader(afterRotation).kid, newKid)
      const published = (
        (await server.get('/.well-known/jwks.json')).json as unknown as JSONWebKeySet
      ).keys.map((k) => k.kid)
      assert.ok(published.includes(oldKid), 'the old key stays published while its tokens live')
      assert.equal(await isActive(server, before, who), true)

      const retired = cli(['keys', 'retire', '--db', server.db, `--kid=${String(oldKid)}`])
      assert.equal(retired.status, 0, retired.stderr)
      assert.equal(
        await isActive(server, before, who),
        false,
        'a retired key verifies nothing at once',
      )
      await sleep(1300)
      const finalKids = (
        (await server.get('/.well-known/jwks.json')).json as unknown as JSONWebKeySet
      ).keys.map((k) => k.kid)
      // The RS256 key of ID tokens, a lineage of its own, stays.
      const idTokenKids = (
        cli(['keys', 'list', '--db', server.db]).json as { kid: string; alg: string }[]
      )
        .filter((k) => k.alg === 'RS256')
        .map((k) => k.kid)
      assert.deepEqual(finalKids.sort(), [newKid, ...idTokenKids].sort())
      assert.equal(await isActive(server, afterRotation, who), true)
    } finally {
      await server.dispose()
    }
  })

  it('stops signing with a retired key as soon as its revocation is read, not at the next key reload', async () => {
    // Keys are re-read once a minute here: only the retirement's event can make the server switch.
    const server = await startServer({ env: { LATCHKEY_KEY_RELOAD_MS: '60000' } })
    try {
      const c = createClient(server.db, 'svc', '--grant', 'client_credentials')
      const api = createClient(
        server.db,
        'api',
        '--grant',
        'client_credentials',
        '--resource-server',
      )
      const oldKid = decodeProtectedHeader(
        await clientToken(server, c.client_id, c.client_secret),
      ).kid
      const rotated = cli(['keys', 'rotate', '--db', server.db, '--activate-in', '0'])
      assert.equal(rotated.status, 0, rotated.stderr)
      const newKid = (rotated.json as { kid: string }).kid
      const stale = await clientToken(server, c.client_id, c.client_secret)
      assert.equal(decodeProtectedHeader(stale).kid, oldKid, 'the server has not re-read its keys')
      const retired = cli(['keys', 'retire', '--db', server.db, `--kid=${String(oldKid)}`])
      assert.equal(retired.status, 0, retired.stderr)
      const deadline = Date.now() + 3000
      let token = await clientToken(server, c.client_id, c.client_secret)
      while (decodeProtectedHeader(token).kid !== newKid && Date.now() < deadline) {
        await sleep(50)
        token = await clientToken(server, c.client_id, c.client_secret)
      }
      assert.equal(decodeProtectedHeader(token).kid, newKid)
      assert.equal(await isActive(server, token, [api.client_id, api.client_secret]), true)
    } finally {
      await server.dispose()
    }
  })

  it('keeps signing keys sealed at rest with LATCHKEY_KEY_ENCRYPTION_SECRET and refuses to start without it', async () => {
    const { dir, cleanup } = tempDir()
    const env = { LATCHKEY_KEY_ENCRYPTION_SECRET: 'a long key-encryption secret' }
    try {
      const server = await startServer({ dir, env })
      const c = createClient(server.db, 'svc', '--grant', 'client_credentials')
      await clientToken(server, c.client_id, c.client_secret)
      await server.stop()
      assert.equal(readFileSync(join(dir, 'latchkey.db')).includes('PRIVATE KEY'), false)

      const db = `sqlite:${join(dir, 'latchkey.db')}`
      for (const secret of ['', 'the wrong key-encryption secret']) {
        const result = cli(['serve', '--port', '0', '--db', db], {
          env: { LATCHKEY_KEY_ENCRYPTION_SECRET: secret },
        })
        assert.notEqual(result.status, 0)
        assert.match(result.stderr, /LATCHKEY_KEY_ENCRYPTION_SECRET/)
      }
      const again = await startServer({ dir, env })
      await clientToken(again, c.client_id, c.client_secret)
      await again.stop()
    } finally {
      cleanup()
    }
  })

  it('refuses a bad configuration at start with one line on stderr', () => {
    for (const args of [
      ['--port', 'eighty'],
      ['--issuer', 'ftp://example.com'],
      ['--issuer', 'https://example.com/?x=1'],
      ['--db', 'mysql://localhost/x'],
      ['--signing-alg', 'HS256'],
    ]) {
      const result = cli(['serve', ...args])
      assert.notEqual(result.status, 0, args.join(' '))
      assert.equal(result.stderr.trimEnd().split('\n').length, 1, result.stderr)
    }
  })
})
