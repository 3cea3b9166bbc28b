/**
 * `latchkey client create` options for how a client authenticates and what it may address:
 * `--auth-method`, `--jwks-file`, `--jwks-uri`, repeated `--audience`, `--exchange-audience` and
 * `--require-par`, the browser-facing and logout URIs, with the JSON they print and the mistakes they
 * refuse (one line on stderr); and `latchkey client update`, which changes them by the same rules.
 */

import assert from 'node:assert/strict'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { decodeJwt, exportJWK, generateKeyPair, generateSecret } from 'jose'
import { cli, createClient, startServer, tempDir, type TestServer } from '../helpers/server.js'

/** A failed command: non-zero exit, nothing on stdout, exactly one line on stderr. */
function assertOneLineFailure(result: ReturnType<typeof cli>): void {
  assert.notEqual(result.status, 0)
  assert.equal(result.stdout, '')
  const lines = result.stderr.trimEnd().split('\n')
  assert.equal(lines.length, 1, `expected one line on stderr, got: ${result.stderr}`)
  assert.match(lines[0] ?? '', /^latchkey: /)
}

type ClientOut = Record<string, unknown>

describe('latchkey client create: auth methods, keys, audiences', () => {
  let dir: string
  let cleanup: () => void
  let db: string
  let publicSet: string
  let publicJwk: Record<string, unknown>

  const create = (id: string, ...args: string[]) =>
    cli(['client', 'create', '--db', db, '--id', id, ...args])
  const jwksFile = (name: string, content: unknown): string => {
    const path = join(dir, name)
    writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content))
    return path
  }

  before(async () => {
    ;({ dir, cleanup } = tempDir())
    db = `sqlite:${join(dir, 'clients.db')}`
    assert.equal(cli(['init', '--db', db]).status, 0)
    const { publicKey } = await generateKeyPair('ES256', { extractable: true })
    publicJwk = { ...(await exportJWK(publicKey)), kid: 'k1', use: 'sig' }
    publicSet = jwksFile('public.json', { keys: [publicJwk] })
  })
  after(() => cleanup())

  it('keeps today’s defaults: a secret means client_secret_basic, one audience is printed both ways', () => {
    const created = create(
      ...['svc', '--grant', 'client_credentials', '--audience', 'https://api.example.com'],
    )
    assert.equal(created.status, 0, created.stderr)
    const c = created.json as ClientOut
    assert.equal(c.token_endpoint_auth_method, 'client_secret_basic')
    assert.equal(typeof c.client_secret, 'string')
    assert.equal(c.audience, 'https://api.example.com')
    assert.deepEqual(c.audiences, ['https://api.example.com'])
    assert.deepEqual(c.exchange_audiences, [])
    assert.equal(c.require_par, false)
    assert.equal(c.jwks_uri, null)
    assert.equal('jwks' in c, false)
  })

  it('makes --public and --auth-method none the same public client, without a secret', () => {
    const grants = ['--grant', 'authorization_code', '--redirect-uri', 'https://app.example/cb']
    for (const [id, flag] of [
      ['spa1', ['--public']],
      ['spa2', ['--auth-method', 'none']],
    ] as const) {
      const created = create(id, ...grants, ...flag)
      assert.equal(created.status, 0, created.stderr)
      const c = created.json as ClientOut
      assert.equal(c.token_endpoint_auth_method, 'none')
      assert.equal(c.client_secret, undefined)
      assert.equal(c.audience, null)
      assert.deepEqual(c.audiences, [])
    }
  })

  it('registers client_secret_post with a generated secret', () => {
    const created = create(
      'poster',
      '--grant',
      'client_credentials',
      '--auth-method',
      'client_secret_post',
    )
    assert.equal(created.status, 0, created.stderr)
    const c = created.json as ClientOut
    assert.equal(c.token_endpoint_auth_method, 'client_secret_post')
    assert.equal(typeof c.client_secret, 'string')
  })

  it('registers private_key_jwt with an inline key set, without a secret, and shows it', () => {
    const created = create(
      ...['signed', '--grant', 'client_credentials', '--auth-method', 'private_key_jwt'],
      ...['--jwks-file', publicSet],
    )
    assert.equal(created.status, 0, created.stderr)
    const c = created.json as ClientOut
    assert.equal(c.token_endpoint_auth_method, 'private_key_jwt')
    assert.equal(c.client_secret, undefined)
    assert.deepEqual(c.jwks, { keys: [publicJwk] })
    assert.equal(c.jwks_uri, null)

    const shown = cli(['client', 'show', '--db', db, '--id', 'signed'])
    assert.equal(shown.status, 0, shown.stderr)
    assert.deepEqual((shown.json as ClientOut).jwks, { keys: [publicJwk] })
    const listed = (cli(['client', 'list', '--db', db]).json as ClientOut[]).find(
      (x) => x.client_id === 'signed',
    )
    assert.equal(listed?.token_endpoint_auth_method, 'private_key_jwt')
  })

  it('registers private_key_jwt with a key set URI (https, or http on loopback)', () => {
    for (const [id, uri] of [
      ['remote', 'https://client.example.com/jwks.json'],
      ['local', 'http://127.0.0.1:8080/jwks.json'],
    ] as const) {
      const created = create(
        ...[id, '--grant', 'client_credentials', '--auth-method', 'private_key_jwt'],
        ...['--jwks-uri', uri],
      )
      assert.equal(created.status, 0, created.stderr)
      const c = created.json as ClientOut
      assert.equal(c.jwks_uri, uri)
      assert.equal('jwks' in c, false)
    }
  })

  it('keeps several audiences in order, exchange audiences and --require-par', () => {
    const created = create(
      ...['multi', '--grant', 'authorization_code', '--redirect-uri', 'https://app.example/cb'],
      ...['--audience', 'https://orders.example', '--audience', 'https://billing.example'],
      ...[
        '--exchange-audience',
        'https://ledger.example',
        '--exchange-audience',
        'https://x.example',
      ],
      '--require-par',
    )
    assert.equal(created.status, 0, created.stderr)
    const c = created.json as ClientOut
    assert.equal(c.audience, 'https://orders.example')
    assert.deepEqual(c.audiences, ['https://orders.example', 'https://billing.example'])
    assert.deepEqual(c.exchange_audiences, ['https://ledger.example', 'https://x.example'])
    assert.equal(c.require_par, true)
    const shown = cli(['client', 'show', '--db', db, '--id', 'multi']).json as ClientOut
    assert.deepEqual(shown.audiences, c.audiences)
    assert.equal(shown.require_par, true)
  })

  it('refuses each mistake with one line on stderr and registers nothing', async () => {
    const cc = ['--grant', 'client_credentials']
    const pkj = [...cc, '--auth-method', 'private_key_jwt']
    const secret = ['--secret', 'a-supplied-secret-of-enough-length']
    const { privateKey } = await generateKeyPair('ES256', { extractable: true })
    const privateJwk = await exportJWK(privateKey)
    const rsa = await generateKeyPair('RS256', { extractable: true })
    const octKey = await exportJWK(await generateSecret('HS256', { extractable: true }))
    const { kty: _kty, ...noKty } = publicJwk
    const cases: [string, string[]][] = [
      ['unknown method', [...cc, '--auth-method', 'tls_client_auth']],
      ['none with a secret', [...cc, '--auth-method', 'none', ...secret]],
      ['none with client_credentials', [...cc, '--auth-method', 'none']],
      ['--public with another method', [...cc, '--public', '--auth-method', 'client_secret_basic']],
      ['private_key_jwt without keys', pkj],
      [
        'private_key_jwt with both',
        [...pkj, '--jwks-file', publicSet, '--jwks-uri', 'https://c.example/j'],
      ],
      ['private_key_jwt with a secret', [...pkj, '--jwks-file', publicSet, ...secret]],
      ['keys without private_key_jwt', [...cc, '--jwks-file', publicSet]],
      ['a key set URI without private_key_jwt', [...cc, '--jwks-uri', 'https://c.example/j']],
      ['a plain http key set URI', [...pkj, '--jwks-uri', 'http://client.example.com/jwks.json']],
      ['a relative key set URI', [...pkj, '--jwks-uri', '/jwks.json']],
      ['a missing key set file', [...pkj, '--jwks-file', join(dir, 'absent.json')]],
      ['a key set file that is not JSON', [...pkj, '--jwks-file', jwksFile('bad.json', '{keys')]],
      ['a bare key, not a set', [...pkj, '--jwks-file', jwksFile('bare.json', publicJwk)]],
      ['an empty set', [...pkj, '--jwks-file', jwksFile('empty.json', { keys: [] })]],
      ['a private EC key', [...pkj, '--jwks-file', jwksFile('ec.json', { keys: [privateJwk] })]],
      [
        'a private RSA key',
        [...pkj, '--jwks-file', jwksFile('rsa.json', { keys: [await exportJWK(rsa.privateKey)] })],
      ],
      [
        'a private member p alone',
        [
          ...pkj,
          '--jwks-file',
          jwksFile('p.json', { keys: [{ ...(await exportJWK(rsa.publicKey)), p: 'AQAB' }] }),
        ],
      ],
      ['a symmetric key', [...pkj, '--jwks-file', jwksFile('oct.json', { keys: [octKey] })]],
      ['a key without kty', [...pkj, '--jwks-file', jwksFile('nokty.json', { keys: [noKty] })]],
      [
        'a key that does not import',
        [...pkj, '--jwks-file', jwksFile('broken.json', { keys: [{ ...publicJwk, x: 'AAAA' }] })],
      ],
      ['an empty audience', [...cc, '--audience', 'https://a.example', '--audience', ' ']],
      ['an empty exchange audience', [...cc, '--exchange-audience', '']],
      ['--require-par without authorization_code', [...cc, '--require-par']],
    ]
    for (const [name, args] of cases) {
      const result = create('refused', ...args)
      assert.notEqual(result.status, 0, `${name}: accepted`)
      assertOneLineFailure(result)
      // A refusal names the member, never a key's value.
      assert.equal(result.stderr.includes(String(privateJwk.d)), false, name)
    }
    const shown = cli(['client', 'show', '--db', db, '--id', 'refused'])
    assert.notEqual(shown.status, 0, 'nothing was registered')
  })
})

describe('several audiences at the token endpoint', () => {
  let server: TestServer
  before(async () => {
    server = await startServer()
  })
  after(() => server.dispose())

  it('addresses a client’s access tokens to its first audience by default', async () => {
    const c = createClient(
      server.db,
      'multi-aud',
      ...['--grant', 'client_credentials'],
      ...['--audience', 'https://orders.example', '--audience', 'https://billing.example'],
    )
    const response = await server.post('/token', { grant_type: 'client_credentials' }, [
      'multi-aud',
      c.client_secret,
    ])
    assert.equal(response.status, 200)
    const { access_token } = response.json as { access_token: string }
    assert.equal(decodeJwt(access_token).aud, 'https://orders.example')
  })
})

describe('a client uses only the method it registered', () => {
  let server: TestServer
  before(async () => {
    server = await startServer()
  })
  after(() => server.dispose())

  const cc = { grant_type: 'client_credentials' }
  const viaBasic = (id: string, secret: string) => server.post('/token', cc, [id, secret])
  const viaPost = (id: string, secret: string) =>
    server.post('/token', { ...cc, client_id: id, client_secret: secret })

  it('takes a pinned secret method only, and refuses the other as a wrong secret', async () => {
    const post = createClient(
      server.db,
      'pinned-post',
      '--grant',
      'client_credentials',
      '--auth-method',
      'client_secret_post',
    )
    const basicOnly = createClient(
      server.db,
      'pinned-basic',
      '--grant',
      'client_credentials',
      '--auth-method',
      'client_secret_basic',
    )
    assert.equal((await viaPost('pinned-post', post.client_secret)).status, 200)
    assert.equal((await viaBasic('pinned-basic', basicOnly.client_secret)).status, 200)
    for (const refused of [
      await viaBasic('pinned-post', post.client_secret),
      await viaPost('pinned-basic', basicOnly.client_secret),
    ]) {
      assert.equal(refused.status, 401)
      assert.deepEqual(refused.json, {
        error: 'invalid_client',
        error_description: 'client authentication failed',
      })
    }
  })

  it('lets a client registered without --auth-method send its secret either way', async () => {
    const c = createClient(server.db, 'unpinned', '--grant', 'client_credentials')
    assert.equal((await viaBasic('unpinned', c.client_secret)).status, 200)
    assert.equal((await viaPost('unpinned', c.client_secret)).status, 200)
  })
})

describe('latchkey client create: browser origins, display name, logo', () => {
  let dir: string
  let cleanup: () => void
  let db: string
  const create = (id: string, ...args: string[]) =>
    cli(['client', 'create', '--db', db, '--id', id, '--grant', 'client_credentials', ...args])

  before(() => {
    ;({ dir, cleanup } = tempDir())
    db = `sqlite:${join(dir, 'presentation.db')}`
    assert.equal(cli(['init', '--db', db]).status, 0)
  })
  after(() => cleanup())

  it('prints them with RFC 7591 names, and null or empty without them', () => {
    const plain = create('plain')
    assert.equal(plain.status, 0, plain.stderr)
    const p = plain.json as ClientOut
    assert.deepEqual(p.allowed_origins, [])
    assert.equal(p.client_name, null)
    assert.equal(p.logo_uri, null)

    const created = create(
      ...['dash', '--allowed-origin', 'https://dash.example', '--allowed-origin'],
      ...['http://localhost:5173', '--allowed-origin', 'https://dash.example'],
      ...['--display-name', 'Dashboard — ünïcode', '--logo-uri', 'https://cdn.example/l.png'],
    )
    assert.equal(created.status, 0, created.stderr)
    const c = created.json as ClientOut
    assert.deepEqual(c.allowed_origins, ['https://dash.example', 'http://localhost:5173'])
    assert.equal(c.client_name, 'Dashboard — ünïcode')
    assert.equal(c.logo_uri, 'https://cdn.example/l.png')
    const shown = cli(['client', 'show', '--db', db, '--id', 'dash'])
    assert.equal(shown.status, 0, shown.stderr)
    assert.deepEqual((shown.json as ClientOut).allowed_origins, c.allowed_origins)
    assert.equal((shown.json as ClientOut).client_name, c.client_name)
    assert.equal((shown.json as ClientOut).logo_uri, c.logo_uri)
  })

  for (const [label, args, message] of [
    [
      'an origin with a path',
      ['--allowed-origin', 'https://a.example/app'],
      /as a browser sends it/,
    ],
    ['an origin with a trailing slash', ['--allowed-origin', 'https://a.example/'], /as a browser/],
    ['an origin in upper case', ['--allowed-origin', 'https://A.example'], /https:\/\/a\.example/],
    ['an origin with its default port', ['--allowed-origin', 'https://a.example:443'], /browser/],
    ['an http origin off loopback', ['--allowed-origin', 'http://a.example'], /https/],
    ['a non-URL origin', ['--allowed-origin', 'a.example'], /not an origin/],
    ['a custom-scheme origin', ['--allowed-origin', 'com.example.app://x'], /https/],
    ['an empty origin', ['--allowed-origin', ''], /empty/],
    ['an empty display name', ['--display-name', '  '], /empty/],
    ['a display name over 100 characters', ['--display-name', 'x'.repeat(101)], /at most 100/],
    ['a display name with a control character', ['--display-name', 'a\u0007b'], /printable/],
    ['a display name with a bidi override', ['--display-name', 'a\u202eb'], /printable/],
    ['an http logo off loopback', ['--logo-uri', 'http://cdn.example/l.png'], /https/],
    ['a javascript: logo', ['--logo-uri', 'javascript:alert(1)'], /https/],
    ['a data: logo', ['--logo-uri', 'data:image/png;base64,AAAA'], /https/],
    ['a logo with credentials', ['--logo-uri', 'https://u:p@cdn.example/l.png'], /credentials/],
    ['a relative logo', ['--logo-uri', '/logo.png'], /absolute/],
  ] as const) {
    it(`refuses ${label} with one line`, () => {
      const result = create(`bad-${label.replace(/\W+/g, '-')}`, ...args)
      assertOneLineFailure(result)
      assert.match(result.stderr, message)
    })
  }

  it('accepts a loopback http origin and logo, and a 100-character name', () => {
    const ok = create(
      ...['loop', '--allowed-origin', 'http://127.0.0.1:3000', '--logo-uri'],
      ...['http://localhost:3000/logo.svg', '--display-name', 'n'.repeat(100)],
    )
    assert.equal(ok.status, 0, ok.stderr)
  })
})

describe('latchkey client create: logout URIs', () => {
  let cleanup: () => void
  let db: string
  const create = (id: string, ...args: string[]) =>
    cli(['client', 'create', '--db', db, '--id', id, '--grant', 'authorization_code', ...args])

  before(() => {
    let dir: string
    ;({ dir, cleanup } = tempDir())
    db = `sqlite:${join(dir, 'logout.db')}`
    assert.equal(cli(['init', '--db', db]).status, 0)
  })
  after(() => cleanup())

  it('prints post_logout_redirect_uris and backchannel_logout_uri, empty and null without them', () => {
    const plain = create('plain', '--redirect-uri', 'https://app.example/cb')
    assert.equal(plain.status, 0, plain.stderr)
    assert.deepEqual((plain.json as ClientOut).post_logout_redirect_uris, [])
    assert.equal((plain.json as ClientOut).backchannel_logout_uri, null)

    const created = create(
      ...['web', '--redirect-uri', 'https://app.example/cb'],
      ...['--post-logout-redirect-uri', 'https://app.example/bye'],
      ...['--post-logout-redirect-uri', 'http://127.0.0.1:3000/bye?x=1'],
      ...['--post-logout-redirect-uri', 'https://app.example/bye'],
      ...['--backchannel-logout-uri', 'https://app.example/backchannel'],
    )
    assert.equal(created.status, 0, created.stderr)
    const c = created.json as ClientOut
    assert.deepEqual(c.post_logout_redirect_uris, [
      'https://app.example/bye',
      'http://127.0.0.1:3000/bye?x=1',
    ])
    assert.equal(c.backchannel_logout_uri, 'https://app.example/backchannel')
    const shown = cli(['client', 'show', '--db', db, '--id', 'web'])
    assert.deepEqual(
      (shown.json as ClientOut).post_logout_redirect_uris,
      c.post_logout_redirect_uris,
    )
    assert.equal((shown.json as ClientOut).backchannel_logout_uri, c.backchannel_logout_uri)
    const loopback = create(
      ...['loop', '--redirect-uri', 'https://app.example/cb'],
      ...['--backchannel-logout-uri', 'http://localhost:4000/bc'],
    )
    assert.equal(loopback.status, 0, loopback.stderr)
  })

  for (const [label, args, message] of [
    [
      'a post-logout URI with a fragment',
      ['--post-logout-redirect-uri', 'https://a.example/#x'],
      /fragment/,
    ],
    [
      'an http post-logout URI off loopback',
      ['--post-logout-redirect-uri', 'http://a.example/'],
      /https/,
    ],
    [
      'a javascript: post-logout URI',
      ['--post-logout-redirect-uri', 'javascript:alert(1)'],
      /not allowed/,
    ],
    ['a relative post-logout URI', ['--post-logout-redirect-uri', '/bye'], /absolute/],
    [
      'an http back-channel URI off loopback',
      ['--backchannel-logout-uri', 'http://a.example/bc'],
      /https/,
    ],
    [
      'a back-channel URI with a fragment',
      ['--backchannel-logout-uri', 'https://a.example/bc#f'],
      /fragment/,
    ],
    [
      'a back-channel URI with credentials',
      ['--backchannel-logout-uri', 'https://u:p@a.example/'],
      /credentials/,
    ],
    [
      'a custom-scheme back-channel URI',
      ['--backchannel-logout-uri', 'com.example.app:/bc'],
      /https/,
    ],
  ] as const) {
    it(`refuses ${label} with one line`, () => {
      const result = create(
        `bad-${label.replace(/\W+/g, '-')}`,
        ...['--redirect-uri', 'https://a.example/cb', ...args],
      )
      assertOneLineFailure(result)
      assert.match(result.stderr, message)
    })
  }
})

describe('latchkey client update', () => {
  let dir: string
  let cleanup: () => void
  let db: string

  before(() => {
    ;({ dir, cleanup } = tempDir())
    db = `sqlite:${join(dir, 'update.db')}`
    assert.equal(cli(['init', '--db', db]).status, 0)
  })
  after(() => cleanup())

  const update = (id: string, ...args: string[]) =>
    cli(['client', 'update', '--db', db, '--id', id, ...args])

  it('replaces what is given, keeps the rest and the secret, and clears with --no-', async () => {
    const created = cli([
      ...['client', 'create', '--db', db, '--id', 'web', '--grant', 'authorization_code'],
      ...['--redirect-uri', 'https://a.example/cb', '--display-name', 'Web', '--scope', 'read'],
    ])
    assert.equal(created.status, 0, created.stderr)
    const secret = (created.json as ClientOut).client_secret as string
    const changed = update(
      'web',
      ...['--redirect-uri', 'https://b.example/cb', '--redirect-uri', 'https://c.example/cb'],
      ...['--no-display-name', '--third-party', '--access-token-ttl', '60'],
    )
    assert.equal(changed.status, 0, changed.stderr)
    const c = changed.json as ClientOut
    assert.deepEqual(c.redirect_uris, ['https://b.example/cb', 'https://c.example/cb'])
    assert.equal(c.client_name, null)
    assert.equal(c.third_party, true)
    assert.equal(c.access_token_ttl, 60)
    assert.equal(c.scope, 'read')
    assert.equal(c.client_secret, undefined)
    assert.deepEqual(cli(['client', 'show', '--db', db, '--id', 'web']).json, c)
    const back = update('web', '--no-third-party')
    assert.equal((back.json as ClientOut).third_party, false)
    // The secret is the one it had: it still gets a token.
    const server = await startServer({ db })
    try {
      const token = await server.post('/token', { grant_type: 'client_credentials' }, [
        'web',
        secret,
      ])
      // Registered for authorization_code only: the secret authenticates, the grant is refused.
      assert.equal(token.json.error, 'unauthorized_client', token.text)
    } finally {
      await server.stop()
    }
    const audit = cli(['audit', 'list', '--db', db, '--kind', 'client.updated'])
    assert.equal(audit.status, 0, audit.stderr)
    const events = audit.json as { actor: string; details: { fields: string[] } }[]
    assert.equal(events.length, 2)
    assert.match(events[1]!.actor, /^cli:/)
    assert.deepEqual(events[1]!.details.fields.sort(), [
      'access_token_ttl',
      'client_name',
      'redirect_uris',
      'third_party',
    ])
  })

  for (const [label, args] of [
    ['an unknown client', ['--id', 'nobody', '--scope', 'read']],
    [
      'a grant that needs a redirect URI it lacks',
      ['--id', 'svc', '--grant', 'authorization_code'],
    ],
    ['a bad TTL', ['--id', 'svc', '--access-token-ttl', '0']],
    ['keys for a secret client', ['--id', 'svc', '--jwks-uri', 'https://k.example/jwks']],
    ['an ID-token alg without a key', ['--id', 'svc', '--id-token-signed-response-alg', 'PS256']],
  ] as const) {
    it(`refuses ${label} with one line and changes nothing`, () => {
      const made = cli([
        ...['client', 'create', '--db', db, '--id', 'svc', '--grant', 'client_credentials'],
      ])
      assert.ok(made.status === 0 || /already exists/.test(made.stderr), made.stderr)
      const before = cli(['client', 'show', '--db', db, '--id', 'svc']).stdout
      assertOneLineFailure(cli(['client', 'update', '--db', db, ...args]))
      assert.equal(cli(['client', 'show', '--db', db, '--id', 'svc']).stdout, before)
    })
  }
})
