import assert from 'node:assert/strict'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { cli, tempDir } from '../helpers/server.js'

/** A failed command: non-zero exit, nothing on stdout, exactly one line on stderr. */
function assertOneLineFailure(result: ReturnType<typeof cli>): void {
  assert.notEqual(result.status, 0)
  assert.equal(result.stdout, '')
  const lines = result.stderr.trimEnd().split('\n')
  assert.equal(lines.length, 1, `expected one line on stderr, got: ${result.stderr}`)
  assert.match(lines[0] ?? '', /^latchkey: /)
}

describe('latchkey CLI', () => {
  let dir: string
  let cleanup: () => void
  let db: string
  before(() => {
    ;({ dir, cleanup } = tempDir())
    db = `sqlite:${join(dir, 'cli.db')}`
    assert.equal(cli(['init', '--db', db]).status, 0)
  })
  after(() => cleanup())

  it('prints help and its version, exiting 0', () => {
    const help = cli(['--help'])
    assert.equal(help.status, 0)
    for (const command of ['serve', 'client', 'keys', 'token'])
      assert.match(help.stdout, new RegExp(command))
    const version = cli(['--version'])
    assert.equal(version.status, 0)
    const pkg = JSON.parse(
      readFileSync(new URL('../../../package.json', import.meta.url), 'utf8'),
    ) as {
      version: string
    }
    assert.equal(version.stdout.trim(), pkg.version)
  })

  it('creates a client with a generated 256-bit secret shown once, and never stores it in clear', () => {
    const created = cli([
      'client',
      'create',
      '--db',
      db,
      '--id',
      'billing',
      '--grant',
      'client_credentials',
      '--scope',
      'invoices:read invoices:write',
      '--audience',
      'https://api.example.com',
      '--access-token-ttl',
      '600',
    ])
    assert.equal(created.status, 0, created.stderr)
    const client = created.json as Record<string, unknown>
    assert.equal(client.client_id, 'billing')
    assert.deepEqual(client.grant_types, ['client_credentials'])
    assert.equal(client.scope, 'invoices:read invoices:write')
    assert.equal(client.audience, 'https://api.example.com')
    assert.equal(client.access_token_format, 'jwt')
    assert.equal(client.access_token_ttl, 600)
    assert.equal(client.resource_server, false)
    const secret = client.client_secret as string
    assert.match(secret, /^[A-Za-z0-9_-]{43}$/)
    assert.equal(Buffer.from(secret, 'base64url').length, 32)
    // The database file holds only the hash.
    assert.equal(readFileSync(join(dir, 'cli.db')).includes(secret), false)

    const shown = cli(['client', 'show', '--db', db, '--id', 'billing'])
    assert.equal(shown.status, 0)
    assert.equal((shown.json as Record<string, unknown>).client_secret, undefined)
  })

  it('takes a supplied secret without echoing it, and defaults to JWT access tokens of 300 s', () => {
    const secret = 'a-supplied-secret-of-enough-length'
    const created = cli([
      'client',
      'create',
      '--db',
      db,
      '--id',
      'reports',
      '--secret',
      secret,
      '--grant',
      'client_credentials',
    ])
    assert.equal(created.status, 0, created.stderr)
    assert.equal(created.stdout.includes(secret), false)
    const client = created.json as Record<string, unknown>
    assert.equal(client.access_token_ttl, 300)
    assert.equal(client.client_secret, undefined)
  })

  it('registers an opaque-token resource server', () => {
    const created = cli([
      'client',
      'create',
      '--db',
      db,
      '--id',
      'orders-api',
      '--grant',
      'client_credentials',
      '--access-token-format',
      'opaque',
      '--resource-server',
    ])
    assert.equal(created.status, 0, created.stderr)
    const client = created.json as Record<string, unknown>
    assert.equal(client.access_token_format, 'opaque')
    assert.equal(client.resource_server, true)
  })

  it('lists clients as a JSON array ordered by id', () => {
    const listed = cli(['client', 'list', '--db', db])
    assert.equal(listed.status, 0)
    const ids = (listed.json as { client_id: string }[]).map((c) => c.client_id)
    assert.deepEqual(ids, [...ids].sort())
    assert.ok(ids.includes('billing') && ids.includes('reports'))
  })

  it('refuses a duplicate id with one line on stderr', () => {
    assertOneLineFailure(
      cli(['client', 'create', '--db', db, '--id', 'billing', '--grant', 'client_credentials']),
    )
  })

  it('refuses an unknown grant, a short secret, a bad redirect URI, a bad format and a bad lifetime', () => {
    const base = ['client', 'create', '--db', db, '--id', 'x1']
    assertOneLineFailure(cli([...base, '--grant', 'password']))
    assertOneLineFailure(
      cli([...base, '--grant', 'client_credentials', '--secret', 'too-short-secret']),
    )
    assertOneLineFailure(
      cli([...base, '--grant', 'authorization_code', '--redirect-uri', 'not a url']),
    )
    assertOneLineFailure(
      cli([
        ...base,
        '--grant',
        'authorization_code',
        '--redirect-uri',
        'https://app.example/cb#frag',
      ]),
    )
    assertOneLineFailure(
      cli([...base, '--grant', 'authorization_code', '--redirect-uri', 'http://app.example/cb']),
    )
    assertOneLineFailure(
      cli([...base, '--grant', 'client_credentials', '--access-token-format', 'xml']),
    )
    assertOneLineFailure(cli([...base, '--grant', 'client_credentials', '--access-token-ttl', '0']))
    assertOneLineFailure(
      cli([...base, '--grant', 'client_credentials', '--access-token-ttl', '1.5']),
    )
    assertOneLineFailure(cli([...base, '--grant', 'client_credentials', '--scope', 'bad"scope']))
    assertOneLineFailure(
      cli(['client', 'create', '--db', db, '--id', '../etc', '--grant', 'client_credentials']),
    )
    assertOneLineFailure(cli(['client', 'create', '--db', db, '--grant', 'client_credentials']))
    // Nothing half-made was left behind.
    assert.equal(cli(['client', 'show', '--db', db, '--id', 'x1']).status, 1)
  })

  it('refuses a database whose folder does not exist, and an unknown database URL', () => {
    const missing = `sqlite:${join(dir, 'no-such-folder', 'x.db')}`
    assertOneLineFailure(cli(['client', 'list', '--db', missing]))
    assert.equal(existsSync(join(dir, 'no-such-folder')), false)
    assertOneLineFailure(cli(['client', 'list', '--db', 'mysql://localhost/x']))
  })

  it('shows and deletes a client, and fails on an unknown one', () => {
    assertOneLineFailure(cli(['client', 'show', '--db', db, '--id', 'nobody']))
    const deleted = cli(['client', 'delete', '--db', db, '--id', 'reports'])
    assert.equal(deleted.status, 0)
    assert.deepEqual(deleted.json, { client_id: 'reports', deleted: true })
    assertOneLineFailure(cli(['client', 'delete', '--db', db, '--id', 'reports']))
  })

  it('reports an unknown command or option as one line and a non-zero exit', () => {
    const unknown = cli(['frobnicate'])
    assert.notEqual(unknown.status, 0)
    assert.equal(unknown.stdout, '')
    const badOption = cli(['client', 'list', '--db', db, '--nope'])
    assert.notEqual(badOption.status, 0)
  })

  it('lists, rotates and retires signing keys', () => {
    const first = cli(['keys', 'rotate', '--db', db, '--activate-in', '0'])
    assert.equal(first.status, 0, first.stderr)
    const k1 = first.json as Record<string, unknown>
    assert.equal(k1.alg, 'ES256')
    assert.equal(k1.state, 'active')
    assert.equal(k1.encrypted, false)
    assert.equal(JSON.stringify(k1).includes('PRIVATE'), false)

    const second = cli(['keys', 'rotate', '--db', db, '--activate-in', '3600'])
    assert.equal(second.status, 0, second.stderr)
    const k2 = second.json as Record<string, unknown>
    assert.equal(k2.state, 'pending')
    // Another alg is a lineage of its own: its first key signs at once, and the ES256 key goes on.
    const other = cli(['keys', 'rotate', '--db', db, '--alg', 'EdDSA', '--activate-in', '0'])
    assert.equal(other.status, 0, other.stderr)
    assert.equal((other.json as Record<string, unknown>).state, 'active')

    const listed = cli(['keys', 'list', '--db', db]).json as Record<string, unknown>[]
    const byKid = new Map(listed.map((k) => [k.kid, k]))
    // The old key still signs until the new one activates, and stays published after.
    assert.equal(byKid.get(k1.kid)?.state, 'active')
    assert.notEqual(byKid.get(k1.kid)?.published_until, null)

    // The key signing now cannot be retired; a pending one can.
    assertOneLineFailure(cli(['keys', 'retire', '--db', db, `--kid=${String(k1.kid)}`]))
    const retired = cli(['keys', 'retire', '--db', db, `--kid=${String(k2.kid)}`])
    assert.equal(retired.status, 0, retired.stderr)
    assert.equal((retired.json as Record<string, unknown>).state, 'retired')
    assertOneLineFailure(cli(['keys', 'retire', '--db', db, `--kid=${String(k2.kid)}`]))
    assertOneLineFailure(cli(['keys', 'retire', '--db', db, 'no-such-kid']))
    assertOneLineFailure(cli(['keys', 'rotate', '--db', db, '--alg', 'HS256']))
  })

  it('seals private keys when LATCHKEY_KEY_ENCRYPTION_SECRET is set', () => {
    const sealedDb = `sqlite:${join(dir, 'sealed.db')}`
    const env = { LATCHKEY_KEY_ENCRYPTION_SECRET: 'correct horse battery staple' }
    assert.equal(cli(['init', '--db', sealedDb], { env }).status, 0)
    const rotated = cli(['keys', 'rotate', '--db', sealedDb, '--activate-in', '0'], { env })
    assert.equal(rotated.status, 0, rotated.stderr)
    assert.equal((rotated.json as Record<string, unknown>).encrypted, true)
    assert.equal(readFileSync(join(dir, 'sealed.db')).includes('PRIVATE KEY'), false)
  })

  it('takes a token or key id beginning with "-" as the value, and still refuses unknown options', () => {
    // Opaque tokens and key ids are 43 base64url characters: one in 64 begins with '-'.
    const dashed = `-${'A'.repeat(42)}`
    const inspected = cli(['token', 'inspect', dashed, '--db', db])
    // Looked up as an opaque token, and unknown: not valid (exit 2, JSON saying why).
    assert.equal(inspected.status, 2, inspected.stderr)
    assert.equal((inspected.json as { format: string }).format, 'opaque')
    const retired = cli(['keys', 'retire', dashed, '--db', db])
    assertOneLineFailure(retired)
    assert.match(retired.stderr, /no signing key with kid -A+$/m)

    const unknown = cli(['token', 'inspect', '--bogus', dashed, '--db', db])
    assertOneLineFailure(unknown)
    assert.match(unknown.stderr, /unknown option '--bogus'/)
    assertOneLineFailure(cli(['keys', 'retire', '--kidd=x', '--db', db]))
    const twice = cli(['token', 'inspect', dashed, dashed, '--db', db])
    assertOneLineFailure(twice)
    assert.match(twice.stderr, /too many arguments/)
  })

  it('inspects a token that is not one of ours as not valid, saying why', () => {
    for (const token of ['not-a-token!', 'a.b.c']) {
      const result = cli(['token', 'inspect', token, '--db', db])
      assert.equal(result.status, 2)
      assert.equal((result.json as { valid: boolean }).valid, false)
      assert.match(result.stderr, /^latchkey: token not valid: .+\n$/)
    }
  })
})
