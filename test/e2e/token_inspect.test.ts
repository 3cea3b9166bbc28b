/**
 * `latchkey token inspect` exits 0 only for a valid token, and prints one JSON shape whether it
 * checks against the database (`--db`) or against a running server (`--issuer`).
 */
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import {
  cli,
  createClient,
  sleep,
  startServer,
  type CreatedClient,
  type TestServer,
} from '../helpers/server.js'

/** Every key the output may have; `valid`, `format`, `revocations_checked` always. */
const KEYS = ['claims', 'format', 'header', 'reason', 'revocations_checked', 'valid']

interface Inspection {
  valid: boolean
  format: 'jwt' | 'opaque'
  reason?: string
  revocations_checked: boolean
  header?: Record<string, unknown>
  claims?: Record<string, unknown>
}

/** Runs `token inspect` and checks what holds for every answer: the exit code follows `valid`. */
function inspect(args: string[], env: NodeJS.ProcessEnv = {}): Inspection & { status: number } {
  const result = cli(['token', 'inspect', ...args], { env })
  const json = result.json as Inspection | undefined
  assert.ok(json, `no JSON on stdout (exit ${result.status}): ${result.stderr}`)
  for (const key of Object.keys(json)) assert.ok(KEYS.includes(key), `unexpected key ${key}`)
  assert.equal(typeof json.valid, 'boolean')
  assert.equal(typeof json.revocations_checked, 'boolean')
  if (json.valid) {
    assert.equal(result.status, 0, result.stderr)
    assert.equal(json.reason, undefined)
    assert.ok(json.claims, 'a valid token has its claims')
  } else {
    assert.equal(result.status, 2, result.stderr)
    assert.equal(typeof json.reason, 'string')
    assert.equal(result.stderr.trimEnd().split('\n').length, 1, result.stderr)
    assert.match(result.stderr, /^latchkey: token not valid: /)
  }
  return { ...json, status: result.status }
}

describe('token inspect: exit 0 only for a valid token, one JSON shape in both modes', () => {
  let server: TestServer
  let app: CreatedClient
  let opaque: CreatedClient
  let brief: CreatedClient
  let api: CreatedClient
  let creds: NodeJS.ProcessEnv
  const tokens: Record<string, string> = {}

  const issue = async (client: CreatedClient): Promise<string> => {
    const res = await server.post('/token', { grant_type: 'client_credentials' }, [
      client.client_id,
      client.client_secret,
    ])
    assert.equal(res.status, 200, res.text)
    return res.json.access_token as string
  }

  before(async () => {
    server = await startServer()
    app = createClient(server.db, 'app', '--grant', 'client_credentials')
    opaque = createClient(
      server.db,
      'app-opaque',
      ...['--grant', 'client_credentials', '--access-token-format', 'opaque'],
    )
    brief = createClient(
      server.db,
      'brief',
      ...['--grant', 'client_credentials', '--access-token-ttl', '1'],
    )
    api = createClient(server.db, 'api', '--grant', 'client_credentials', '--resource-server')
    creds = { LATCHKEY_CLIENT_ID: api.client_id, LATCHKEY_CLIENT_SECRET: api.client_secret }
    tokens.jwt = await issue(app)
    tokens.opaque = await issue(opaque)
    tokens.expired = await issue(brief)
    // Expired for a checker that tolerates the default 5 s of clock skew (the CLI against the
    // database, and the verifier SDK against the server): 1 s of life, then more than 5 s.
    const expiredAfter = Date.now() + 1000 + 5000 + 1100
    tokens.revokedJwt = await issue(app)
    tokens.revokedOpaque = await issue(opaque)
    for (const [t, c] of [
      [tokens.revokedJwt, app],
      [tokens.revokedOpaque, opaque],
    ] as const) {
      const res = await server.post('/revoke', { token: t }, [c.client_id, c.client_secret])
      assert.equal(res.status, 200)
    }
    await sleep(Math.max(0, expiredAfter - Date.now()))
  })
  after(async () => {
    await server?.dispose()
  })

  const modes = (): { name: string; args: string[]; env: NodeJS.ProcessEnv }[] => [
    { name: 'against the database', args: ['--db', server.db], env: {} },
    { name: 'against the server', args: ['--issuer', server.url], env: creds },
  ]

  it('exits 0 with valid: true and the claims for a live JWT and a live opaque token, in both modes', () => {
    for (const mode of modes()) {
      const jwt = inspect([tokens.jwt!, ...mode.args], mode.env)
      assert.equal(jwt.valid, true, mode.name)
      assert.equal(jwt.format, 'jwt')
      assert.equal(jwt.revocations_checked, true)
      assert.equal(jwt.claims?.sub, 'app')
      assert.equal(jwt.header?.typ, 'at+jwt')
      const op = inspect([tokens.opaque!, ...mode.args], mode.env)
      assert.equal(op.valid, true, mode.name)
      assert.equal(op.format, 'opaque')
      assert.equal(op.claims?.client_id, 'app-opaque')
      assert.equal(op.header, undefined)
    }
  })

  it('exits 2 with valid: false and a reason for expired and revoked tokens, in both modes', () => {
    for (const mode of modes()) {
      for (const name of ['expired', 'revokedJwt', 'revokedOpaque']) {
        const result = inspect([tokens[name]!, ...mode.args], mode.env)
        assert.equal(result.valid, false, `${name} ${mode.name}`)
        if (name !== 'revokedOpaque') {
          // A JWT refused is still shown decoded.
          assert.equal(result.format, 'jwt')
          assert.equal(typeof result.claims?.sub, 'string')
        }
      }
      assert.match(inspect([tokens.expired!, ...mode.args], mode.env).reason ?? '', /expired/)
      assert.match(inspect([tokens.revokedJwt!, ...mode.args], mode.env).reason ?? '', /revoked/)
    }
  })

  it('exits 2 with valid: false for malformed tokens, in both modes', () => {
    for (const mode of modes()) {
      for (const [token, format] of [
        ['a.b.c', 'jwt'],
        [`${tokens.jwt!.slice(0, -4)}AAAA`, 'jwt'],
        ['not-a-token!', 'opaque'],
        ['A'.repeat(43), 'opaque'],
      ] as const) {
        const result = inspect([token, ...mode.args], mode.env)
        assert.equal(result.valid, false, `${token} ${mode.name}`)
        assert.equal(result.format, format)
      }
    }
  })

  it('reports a token signed by another database as not valid: it is checked against the keys', () => {
    const other = `sqlite:${join(server.dir, 'other.db')}`
    assert.equal(cli(['init', '--db', other]).status, 0)
    const result = inspect([tokens.jwt!, '--db', other])
    assert.equal(result.valid, false)
    assert.match(result.reason ?? '', /kid/)
  })

  it('checks iss and aud locally when --issuer and --audience name them', () => {
    const iss = inspect([tokens.jwt!, '--db', server.db, '--issuer', 'https://other.example'])
    assert.equal(iss.valid, false)
    const aud = inspect([tokens.jwt!, '--db', server.db, '--audience', 'https://api.example'])
    assert.equal(aud.valid, false)
    assert.equal(inspect([tokens.jwt!, '--db', server.db, '--issuer', server.url]).valid, true)
  })

  it('does not call a JWT valid when the server cannot be asked about revocations (no credentials)', () => {
    const result = inspect([tokens.revokedJwt!, '--issuer', server.url])
    assert.equal(result.valid, false)
    assert.equal(result.revocations_checked, false)
    assert.match(result.reason ?? '', /--client-id/)
  })
})
