import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import {
  createLocalJWKSet,
  decodeJwt,
  decodeProtectedHeader,
  jwtVerify,
  type JSONWebKeySet,
} from 'jose'
import {
  createClient,
  sleep,
  startServer,
  type CreatedClient,
  type TestServer,
} from '../helpers/server.js'

describe('client_credentials, introspection and revocation over HTTP', () => {
  let server: TestServer
  let jwtClient: CreatedClient
  let opaqueClient: CreatedClient
  let other: CreatedClient
  let api: CreatedClient
  const creds = (c: CreatedClient): [string, string] => [c.client_id, c.client_secret]

  before(async () => {
    server = await startServer()
    jwtClient = createClient(
      server.db,
      'svc-jwt',
      '--grant',
      'client_credentials',
      '--scope',
      'read write admin',
      '--audience',
      'https://api.example',
    )
    opaqueClient = createClient(
      server.db,
      'svc-opaque',
      '--grant',
      'client_credentials',
      '--scope',
      'read',
      '--access-token-format',
      'opaque',
    )
    other = createClient(server.db, 'svc-other', '--grant', 'client_credentials', '--scope', 'read')
    api = createClient(
      server.db,
      'orders-api',
      '--grant',
      'client_credentials',
      '--resource-server',
    )
  })
  after(() => server.dispose())

  async function token(client: CreatedClient, form: Record<string, string> = {}) {
    const res = await server.post(
      '/token',
      { grant_type: 'client_credentials', ...form },
      creds(client),
    )
    assert.equal(res.status, 200, res.text)
    return res.json as {
      access_token: string
      token_type: string
      expires_in: number
      scope?: string
    }
  }
  const introspect = (t: string, who: CreatedClient = api) =>
    server.post('/introspect', { token: t }, creds(who))

  it('publishes RFC 8414 metadata whose endpoints all answer', async () => {
    const res = await server.get('/.well-known/oauth-authorization-server')
    assert.equal(res.status, 200)
    const m = res.json
    assert.equal(m.issuer, server.url)
    for (const name of [
      'token_endpoint',
      'jwks_uri',
      'introspection_endpoint',
      'revocation_endpoint',
    ]) {
      assert.equal(typeof m[name], 'string')
      assert.ok((m[name] as string).startsWith(server.url))
    }
    assert.ok((m.grant_types_supported as string[]).includes('client_credentials'))
    // Public clients authenticate with `none` (test/e2e/metadata_truth.test.ts checks every list).
    assert.deepEqual(m.token_endpoint_auth_methods_supported, [
      'client_secret_basic',
      'client_secret_post',
      'private_key_jwt',
      'none',
    ])
    const jwks = await server.get(new URL(m.jwks_uri as string).pathname)
    assert.equal(jwks.status, 200)
    assert.match(String(jwks.headers['cache-control']), /max-age=\d+/)
  })

  it('issues an RFC 9068 JWT that jose verifies against the JWKS', async () => {
    const res = await server.post('/token', { grant_type: 'client_credentials' }, creds(jwtClient))
    assert.equal(res.status, 200)
    assert.equal(res.headers['cache-control'], 'no-store')
    assert.equal(res.headers.pragma, 'no-cache')
    const body = res.json as {
      access_token: string
      token_type: string
      expires_in: number
      scope: string
    }
    assert.equal(body.token_type, 'Bearer')
    assert.equal(body.expires_in, 300)
    assert.equal(body.scope, 'read write admin')
    const jwks = (await server.get('/.well-known/jwks.json')).json as unknown as JSONWebKeySet
    const { payload, protectedHeader } = await jwtVerify(
      body.access_token,
      createLocalJWKSet(jwks),
      {
        issuer: server.url,
        audience: 'https://api.example',
        typ: 'at+jwt',
        algorithms: ['ES256'],
      },
    )
    assert.equal(protectedHeader.alg, 'ES256')
    assert.equal(typeof protectedHeader.kid, 'string')
    assert.equal(payload.sub, 'svc-jwt')
    assert.equal(payload.client_id, 'svc-jwt')
    assert.equal(payload.scope, 'read write admin')
    assert.equal((payload.exp ?? 0) - (payload.iat ?? 0), 300)
    assert.equal(typeof payload.jti, 'string')
  })

  it('gives every token its own jti, also under parallel requests', async () => {
    const tokens = await Promise.all(Array.from({ length: 20 }, () => token(jwtClient)))
    const jtis = tokens.map((t) => decodeJwt(t.access_token).jti)
    assert.equal(new Set(jtis).size, 20)
  })

  it('authenticates with client_secret_post as well as Basic', async () => {
    const res = await server.post('/token', {
      grant_type: 'client_credentials',
      client_id: jwtClient.client_id,
      client_secret: jwtClient.client_secret,
    })
    assert.equal(res.status, 200)
  })

  it('narrows the scope to what was asked and refuses an unknown scope', async () => {
    assert.equal((await token(jwtClient, { scope: 'read' })).scope, 'read')
    assert.equal((await token(jwtClient, { scope: 'write read' })).scope, 'write read')
    const wider = await server.post(
      '/token',
      { grant_type: 'client_credentials', scope: 'read delete' },
      creds(jwtClient),
    )
    assert.equal(wider.status, 400)
    assert.equal(wider.json.error, 'invalid_scope')
  })

  it('refuses a wrong secret with 401 invalid_client and WWW-Authenticate', async () => {
    const res = await server.post('/token', { grant_type: 'client_credentials' }, [
      jwtClient.client_id,
      'wrong-secret-wrong-secret',
    ])
    assert.equal(res.status, 401)
    assert.equal(res.json.error, 'invalid_client')
    assert.match(String(res.headers['www-authenticate']), /^Basic /)
    assert.equal(res.headers['cache-control'], 'no-store')
  })

  it('marks every answer nosniff: tokens, introspection, revocation, errors, metadata, JWKS', async () => {
    const t = await token(jwtClient)
    const answers = {
      token: await server.post('/token', { grant_type: 'client_credentials' }, creds(jwtClient)),
      'token error': await server.post('/token', { grant_type: 'client_credentials' }, [
        jwtClient.client_id,
        'wrong-secret-wrong-secret',
      ]),
      'malformed request': await server.post('/token', {}, creds(jwtClient)),
      introspection: await introspect(t.access_token),
      'introspection error': await server.post('/introspect', {}, creds(api)),
      revocation: await server.post('/revoke', { token: 'unknown' }, creds(other)),
      metadata: await server.get('/.well-known/oauth-authorization-server'),
      jwks: await server.get('/.well-known/jwks.json'),
      'unknown path': await server.get('/no-such-endpoint'),
      health: await server.get('/healthz'),
      metrics: await server.get('/metrics'),
    }
    for (const [name, res] of Object.entries(answers)) {
      assert.equal(res.headers['x-content-type-options'], 'nosniff', name)
    }
    assert.equal(answers.token.status, 200)
    assert.equal(answers['token error'].status, 401)
    assert.equal(answers['malformed request'].status, 400)
    assert.equal(answers['introspection error'].status, 400)
    assert.equal(answers['unknown path'].status, 404)
  })

  it('issues opaque tokens of 256 bits that are stored only as a hash', async () => {
    const t = await token(opaqueClient)
    assert.match(t.access_token, /^[A-Za-z0-9_-]{43}$/)
    assert.equal(Buffer.from(t.access_token, 'base64url').length, 32)
    const dbFile = server.db.slice('sqlite:'.length)
    const files = [dbFile, `${dbFile}-wal`].map((f) => {
      try {
        return readFileSync(f)
      } catch {
        return Buffer.alloc(0)
      }
    })
    for (const f of files) assert.equal(f.includes(t.access_token), false)
  })

  it('introspects live tokens of both formats with their claims', async () => {
    const jwt = await token(jwtClient, { scope: 'read' })
    const j = await introspect(jwt.access_token)
    assert.equal(j.status, 200)
    assert.equal(j.headers['cache-control'], 'no-store')
    assert.equal(j.json.active, true)
    assert.equal(j.json.client_id, 'svc-jwt')
    assert.equal(j.json.sub, 'svc-jwt')
    assert.equal(j.json.scope, 'read')
    assert.equal(j.json.iss, server.url)
    assert.equal(j.json.aud, 'https://api.example')
    assert.equal(j.json.token_type, 'Bearer')
    assert.equal(typeof j.json.exp, 'number')

    const opaque = await token(opaqueClient)
    const o = await introspect(opaque.access_token)
    assert.equal(o.json.active, true)
    assert.equal(o.json.client_id, 'svc-opaque')
    assert.equal(o.json.scope, 'read')
    assert.equal(o.json.aud, server.url)
  })

  it("lets a client introspect its own tokens but not another client's", async () => {
    const mine = await token(other)
    assert.equal((await introspect(mine.access_token, other)).json.active, true)
    const theirs = await token(jwtClient)
    assert.deepEqual((await introspect(theirs.access_token, other)).json, { active: false })
  })

  it('answers exactly {"active": false} for unknown and malformed tokens', async () => {
    for (const t of ['nope', 'A'.repeat(43), 'a.b.c', 'x'.repeat(5000), '...']) {
      const res = await introspect(t)
      assert.equal(res.status, 200)
      assert.deepEqual(res.json, { active: false })
    }
  })

  it('requires client authentication at introspection', async () => {
    const res = await server.post('/introspect', { token: 'whatever' })
    assert.equal(res.status, 401)
    assert.equal(res.json.error, 'invalid_client')
  })

  it('revokes a JWT by its jti: inactive at introspection, and 200 again on repeat', async () => {
    const t = await token(jwtClient)
    assert.equal((await introspect(t.access_token)).json.active, true)
    const res = await server.post(
      '/revoke',
      { token: t.access_token, token_type_hint: 'access_token' },
      creds(jwtClient),
    )
    assert.equal(res.status, 200)
    assert.deepEqual((await introspect(t.access_token)).json, { active: false })
    assert.equal(
      (await server.post('/revoke', { token: t.access_token }, creds(jwtClient))).status,
      200,
    )
  })

  it('revokes an opaque token', async () => {
    const t = await token(opaqueClient)
    assert.equal(
      (await server.post('/revoke', { token: t.access_token }, creds(opaqueClient))).status,
      200,
    )
    assert.deepEqual((await introspect(t.access_token)).json, { active: false })
  })

  it("answers 200 for an unknown token and ignores another client's token", async () => {
    assert.equal(
      (await server.post('/revoke', { token: 'unknown-token' }, creds(other))).status,
      200,
    )
    const t = await token(jwtClient)
    assert.equal(
      (await server.post('/revoke', { token: t.access_token }, creds(other))).status,
      200,
    )
    assert.equal((await introspect(t.access_token)).json.active, true)
    const o = await token(opaqueClient)
    assert.equal(
      (await server.post('/revoke', { token: o.access_token }, creds(other))).status,
      200,
    )
    assert.equal((await introspect(o.access_token)).json.active, true)
  })

  it('reports a token inactive once it expires', async () => {
    const short = createClient(
      server.db,
      'svc-short',
      '--grant',
      'client_credentials',
      '--access-token-ttl',
      '3',
    )
    const shortOpaque = createClient(
      server.db,
      'svc-short-opaque',
      '--grant',
      'client_credentials',
      '--access-token-ttl',
      '3',
      '--access-token-format',
      'opaque',
    )
    const a = await token(short)
    const b = await token(shortOpaque)
    assert.equal((await introspect(a.access_token)).json.active, true)
    assert.equal((await introspect(b.access_token)).json.active, true)
    // exp is whole seconds: a 3 s token lives 2 to 3 s, enough for the checks above under load.
    await sleep(3200)
    assert.deepEqual((await introspect(a.access_token)).json, { active: false })
    assert.deepEqual((await introspect(b.access_token)).json, { active: false })
  })

  it("ends a deleted client's tokens, JWT and opaque", async () => {
    const doomed = createClient(server.db, 'svc-doomed', '--grant', 'client_credentials')
    const doomedOpaque = createClient(
      server.db,
      'svc-doomed-opaque',
      '--grant',
      'client_credentials',
      '--access-token-format',
      'opaque',
    )
    const a = await token(doomed)
    const b = await token(doomedOpaque)
    const { cli } = await import('../helpers/server.js')
    assert.equal(cli(['client', 'delete', '--db', server.db, '--id', 'svc-doomed']).status, 0)
    assert.equal(
      cli(['client', 'delete', '--db', server.db, '--id', 'svc-doomed-opaque']).status,
      0,
    )
    assert.deepEqual((await introspect(a.access_token)).json, { active: false })
    assert.deepEqual((await introspect(b.access_token)).json, { active: false })
    await sleep(1100) // the client cache holds a record for at most a second
    const after = await server.post('/token', { grant_type: 'client_credentials' }, creds(doomed))
    assert.equal(after.status, 401)
  })

  it('counts requests and issued tokens in /metrics', async () => {
    const res = await server.get('/metrics')
    assert.equal(res.status, 200)
    assert.match(
      res.text,
      /latchkey_http_requests_total\{method="POST",route="\/token",status="200"\} \d+/,
    )
    assert.match(res.text, /latchkey_http_request_duration_seconds_bucket/)
    // The exposition prom-client's own Histogram gives: `le` first, then the series' labels.
    assert.match(
      res.text,
      /latchkey_http_request_duration_seconds_bucket\{le="0\.0005",method="POST",route="\/token"\} \d+/,
    )
    assert.match(
      res.text,
      /latchkey_http_request_duration_seconds_bucket\{le="\+Inf",method="POST",route="\/token"\} \d+/,
    )
    assert.match(
      res.text,
      /latchkey_http_request_duration_seconds_count\{method="POST",route="\/token"\} \d+/,
    )
    assert.match(res.text, /# TYPE latchkey_http_request_duration_seconds histogram/)
    assert.match(res.text, /# TYPE latchkey_http_requests_total counter/)
    assert.match(res.text, /latchkey_tokens_issued_total\{kind="access_token",format="jwt"\} \d+/)
    assert.match(
      res.text,
      /latchkey_tokens_issued_total\{kind="access_token",format="opaque"\} \d+/,
    )
    assert.match(res.text, /latchkey_tokens_revoked_total\{kind="jti"\} \d+/)
  })

  it('never writes a secret or a token to its logs', async () => {
    const t = await token(jwtClient)
    await introspect(t.access_token)
    const log = server.output()
    assert.ok(log.includes('"route":"/token"'), 'request lines are logged')
    for (const secret of [
      jwtClient.client_secret,
      opaqueClient.client_secret,
      api.client_secret,
      t.access_token,
    ]) {
      assert.equal(log.includes(secret), false)
    }
    const kid = decodeProtectedHeader(t.access_token).kid
    assert.ok(kid)
    assert.equal(log.includes('PRIVATE KEY'), false)
    assert.ok(join(server.dir).length > 0)
  })
})
