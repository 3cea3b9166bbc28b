import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import {
  cli,
  createClient,
  sleep,
  startServer,
  type CreatedClient,
  type TestServer,
} from '../helpers/server.js'
import { createSqliteStore } from '../../src/store/sqlite/index.js'

interface ListedKey {
  kid: string
  alg: string
  state: string
  published_until: string | null
  encrypted: boolean
}

const SECRET = 'correct horse battery staple'

/** A failed command: non-zero exit, nothing on stdout, exactly one line on stderr. */
function assertOneLineFailure(result: ReturnType<typeof cli>): void {
  assert.notEqual(result.status, 0)
  assert.equal(result.stdout, '')
  const lines = result.stderr.trimEnd().split('\n')
  assert.equal(lines.length, 1, `expected one line on stderr, got: ${result.stderr}`)
  assert.match(lines[0] ?? '', /^latchkey: /)
}

function listKeys(db: string, env?: NodeJS.ProcessEnv): ListedKey[] {
  const listed = cli(['keys', 'list', '--db', db], { env })
  assert.equal(listed.status, 0, listed.stderr)
  return listed.json as ListedKey[]
}

function kidOf(jwt: string): string {
  const header = JSON.parse(Buffer.from(jwt.split('.')[0] ?? '', 'base64url').toString()) as {
    kid: string
  }
  return header.kid
}

function expOf(jwt: string): number {
  const payload = JSON.parse(Buffer.from(jwt.split('.')[1] ?? '', 'base64url').toString()) as {
    exp: number
  }
  return payload.exp
}

describe('key rotation through the CLI', () => {
  let server: TestServer
  let svc: CreatedClient
  let api: CreatedClient

  before(async () => {
    server = await startServer()
    svc = createClient(server.db, 'svc', '--grant', 'client_credentials')
    api = createClient(
      server.db,
      'orders-api',
      '--grant',
      'client_credentials',
      '--resource-server',
    )
  })
  after(() => server.dispose())

  async function token(): Promise<string> {
    const res = await server.post('/token', { grant_type: 'client_credentials' }, [
      svc.client_id,
      svc.client_secret,
    ])
    assert.equal(res.status, 200, res.text)
    return (res.json as { access_token: string }).access_token
  }

  async function isActive(jwt: string): Promise<boolean> {
    const res = await server.post('/introspect', { token: jwt }, [api.client_id, api.client_secret])
    assert.equal(res.status, 200, res.text)
    return (res.json as { active: boolean }).active
  }

  it('rotate, then rotate --activate-in 0: one key of the alg listed active, the one that signs, and earlier tokens stay valid', async () => {
    const before = await token()
    const pending = cli(['keys', 'rotate', '--db', server.db])
    assert.equal(pending.status, 0, pending.stderr)
    const now = cli(['keys', 'rotate', '--db', server.db, '--activate-in', '0'])
    assert.equal(now.status, 0, now.stderr)
    const newest = (now.json as ListedKey).kid
    assert.equal((now.json as ListedKey).state, 'active')

    const keys = listKeys(server.db)
    assert.equal((now.json as ListedKey).alg, 'ES256', 'the access-token alg by default')
    assert.deepEqual(
      keys.filter((k) => k.state === 'active' && k.alg === 'ES256').map((k) => k.kid),
      [newest],
    )
    // The RS256 lineage (ID tokens) is its own: its one key goes on signing, untouched.
    assert.equal(keys.filter((k) => k.state === 'active' && k.alg === 'RS256').length, 1)
    const byKid = new Map(keys.map((k) => [k.kid, k]))
    assert.equal(byKid.get((pending.json as ListedKey).kid)?.state, 'superseded', 'never signs')

    // Past the server's key reload: it signs with the key listed active.
    await sleep(1500)
    const after = await token()
    assert.equal(kidOf(after), newest)
    assert.equal(await isActive(before), true)
    assert.equal(await isActive(after), true)

    // Each token's key stays published until at least the token's exp.
    for (const jwt of [before, after]) {
      const until = byKid.get(kidOf(jwt))?.published_until
      if (until !== null && until !== undefined) {
        assert.ok(Date.parse(until) / 1000 >= expOf(jwt), `${kidOf(jwt)} published past exp`)
      }
    }
    const jwks = (await server.get('/.well-known/jwks.json')).json as { keys: { kid: string }[] }
    const published = jwks.keys.map((k) => k.kid)
    assert.ok(published.includes(kidOf(before)))
    assert.ok(published.includes(newest))
  })
})

describe('sealed keys stay sealed', () => {
  let server: TestServer
  let sealed: string

  before(async () => {
    server = await startServer({ env: { LATCHKEY_KEY_ENCRYPTION_SECRET: SECRET } })
    sealed = server.db
    await server.stop()
  })
  after(() => server.dispose())

  it('refuses keys rotate without the secret on a sealed database, and writes nothing', () => {
    const before = listKeys(sealed)
    assert.ok(before.every((k) => k.encrypted))
    assertOneLineFailure(
      cli(['keys', 'rotate', '--db', sealed, '--activate-in', '0'], {
        env: { LATCHKEY_KEY_ENCRYPTION_SECRET: '' },
      }),
    )
    assert.deepEqual(listKeys(sealed), before)
  })

  it('refuses keys rotate with a wrong secret on a sealed database, and writes nothing', () => {
    const before = listKeys(sealed)
    const env = { LATCHKEY_KEY_ENCRYPTION_SECRET: 'a different secret, long enough' }
    assertOneLineFailure(cli(['keys', 'rotate', '--db', sealed, '--activate-in', '0'], { env }))
    assert.deepEqual(listKeys(sealed), before)
  })

  it('rotates with the right secret, sealing the new key', () => {
    const env = { LATCHKEY_KEY_ENCRYPTION_SECRET: SECRET }
    const rotated = cli(['keys', 'rotate', '--db', sealed, '--activate-in', '0'], { env })
    assert.equal(rotated.status, 0, rotated.stderr)
    assert.equal((rotated.json as ListedKey).encrypted, true)
  })

  it('refuses to add a first key at serve without the right secret when no sealed key can sign', async () => {
    const fresh = await startServer({ env: { LATCHKEY_KEY_ENCRYPTION_SECRET: SECRET } })
    await fresh.stop()
    try {
      // No key signs (every key retired, as a clock stepped back before them would leave it too):
      // serve adds one, which must be sealed under the same secret.
      const store = createSqliteStore(fresh.db.slice('sqlite:'.length))
      for (const k of await store.listKeys()) await store.retireKey(k.kid, k.createdAt, 300)
      await store.close()
      const before = listKeys(fresh.db)
      for (const secret of ['', 'a different secret, long enough']) {
        const started = await startServer({
          dir: fresh.dir,
          env: { LATCHKEY_KEY_ENCRYPTION_SECRET: secret },
        }).then(
          async (s) => {
            await s.stop()
            return 'started'
          },
          (err: unknown) => String(err),
        )
        assert.match(started, /LATCHKEY_KEY_ENCRYPTION_SECRET/)
        assert.deepEqual(listKeys(fresh.db), before, 'nothing written')
      }
      const restarted = await startServer({
        dir: fresh.dir,
        env: { LATCHKEY_KEY_ENCRYPTION_SECRET: SECRET },
      })
      await restarted.stop()
      // One key per lineage: the access tokens' and the ID tokens'.
      const added = listKeys(fresh.db).filter((k) => k.state === 'active')
      assert.deepEqual(added.map((k) => k.alg).sort(), ['ES256', 'RS256'])
      assert.ok(added.every((k) => k.encrypted))
    } finally {
      await fresh.dispose()
    }
  })

  it('seals a new key on a database of plaintext keys when the secret is set, and then needs it', async () => {
    const plain = await startServer()
    await plain.stop()
    try {
      assert.ok(listKeys(plain.db).every((k) => !k.encrypted))
      const env = { LATCHKEY_KEY_ENCRYPTION_SECRET: SECRET }
      const rotated = cli(['keys', 'rotate', '--db', plain.db, '--activate-in', '0'], { env })
      assert.equal(rotated.status, 0, rotated.stderr)
      assert.equal((rotated.json as ListedKey).encrypted, true)
      // Both kinds open with the secret: the server starts and signs.
      const restarted = await startServer({ dir: plain.dir, env })
      await restarted.stop()
      const before = listKeys(plain.db)
      assertOneLineFailure(
        cli(['keys', 'rotate', '--db', plain.db], { env: { LATCHKEY_KEY_ENCRYPTION_SECRET: '' } }),
      )
      assert.deepEqual(listKeys(plain.db), before)
    } finally {
      await plain.dispose()
    }
  })
})
