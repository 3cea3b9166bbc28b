/**
 * The admin HTTP API under `/admin/v1` against the real server, on SQLite and on PostgreSQL: its
 * OpenAPI 3.1 document (served without a token, describing exactly the routes the server registers),
 * every route refusing no token (401), a user's token and a client's token without `latchkey:admin`
 * (403), a service client's token with it working; users' logins never yielding the scope; then the
 * operations themselves: clients and users created, listed, changed and deleted, a user unlocked,
 * a session listed and revoked (its refresh token then refused), keys listed, rotated and retired,
 * revocations listed.
 */
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { adminRoutes } from '../../src/server/endpoints/admin.js'
import type { ServerContext } from '../../src/server/context.js'
import { authorize, Browser, pkce } from '../helpers/browser.js'
import {
  cli,
  createClient,
  createUser,
  request,
  startServer,
  tempDir,
  type HttpResponse,
  type TestServer,
} from '../helpers/server.js'
import { createTestDatabase, type TestDatabase } from '../store/postgres_databases.js'

const REDIRECT = 'https://app.example/callback'
const ALICE = { username: 'alice', password: 'correct horse battery' }
const ROOT = { username: 'root', password: 'operator horse battery' }
const METHODS = ['get', 'post', 'patch', 'delete', 'put'] as const

type Doc = {
  openapi: string
  info: { title: string; version: string }
  paths: Record<string, Record<string, unknown>>
  components: Record<string, Record<string, unknown>>
}

/** `{name}` parameters filled with something harmless. */
const concrete = (path: string): string => path.replace(/\{\w+\}/g, 'nobody')

function engineSuite(
  engine: string,
  target: () => Promise<{ db: string; done: () => Promise<void> }>,
  full: boolean,
) {
  describe(`admin API on ${engine}`, () => {
    let server: TestServer
    let done: () => Promise<void>
    let web: { client_id: string; client_secret: string }
    let adminToken: string
    let plainClientToken: string
    let userToken: string
    let userRefresh: string

    const api = (
      method: string,
      path: string,
      token: string | undefined,
      body?: unknown,
    ): Promise<HttpResponse> => {
      const headers: Record<string, string> = {}
      if (token !== undefined) headers.authorization = `Bearer ${token}`
      if (body !== undefined) headers['content-type'] = 'application/json'
      return request(`${server.url}/admin/v1${path}`, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
      })
    }

    async function clientToken(id: string, secret: string): Promise<string> {
      const res = await server.post('/token', { grant_type: 'client_credentials' }, [id, secret])
      assert.equal(res.status, 200, res.text)
      return res.json.access_token as string
    }

    /** Signs `who` in at `web` through the code flow and redeems the code: its tokens. */
    async function login(
      who: { username: string; password: string },
      scope?: string,
    ): Promise<{ access: string; refresh: string; scope: string }> {
      const p = pkce()
      const browser = new Browser(server.url)
      const landed = await authorize(
        browser,
        { clientId: 'web', redirectUri: REDIRECT, challenge: p.challenge, scope },
        who,
      )
      const code = landed.searchParams.get('code')
      assert.ok(code, landed.toString())
      const res = await server.post(
        '/token',
        {
          grant_type: 'authorization_code',
          code,
          redirect_uri: REDIRECT,
          code_verifier: p.verifier,
        },
        [web.client_id, web.client_secret],
      )
      assert.equal(res.status, 200, res.text)
      return {
        access: res.json.access_token as string,
        refresh: res.json.refresh_token as string,
        scope: res.json.scope as string,
      }
    }

    const refresh = (token: string): Promise<HttpResponse> =>
      server.post('/token', { grant_type: 'refresh_token', refresh_token: token }, [
        web.client_id,
        web.client_secret,
      ])

    before(async () => {
      const t = await target()
      done = t.done
      const db = t.db
      const ops = createClient(
        db,
        'ops',
        '--grant',
        'client_credentials',
        '--scope',
        'latchkey:admin',
      )
      const svc = createClient(db, 'svc', '--grant', 'client_credentials', '--scope', 'read')
      web = createClient(
        db,
        'web',
        ...['--grant', 'authorization_code', '--grant', 'refresh_token'],
        ...['--redirect-uri', REDIRECT, '--scope', 'openid read latchkey:admin'],
      )
      createUser(db, ALICE)
      const root = cli(['user', 'create', '--db', db, '--username', ROOT.username, '--admin'], {
        input: ROOT.password + '\n',
      })
      assert.equal(root.status, 0, root.stderr)
      assert.equal((root.json as { admin: boolean }).admin, true)
      server = await startServer({ db })
      adminToken = await clientToken('ops', ops.client_secret)
      plainClientToken = await clientToken('svc', svc.client_secret)
      // Alice asks for the admin scope too: she is not an admin, so her tokens go without it.
      const tokens = await login(ALICE, 'openid read latchkey:admin')
      assert.equal(tokens.scope, 'openid read')
      userToken = tokens.access
      userRefresh = tokens.refresh
    })
    after(async () => {
      await server?.dispose()
      await done?.()
    })

    it("a non-admin user's login never yields latchkey:admin, even from a client allowed it", async () => {
      const introspected = await server.post('/introspect', { token: userToken }, [
        web.client_id,
        web.client_secret,
      ])
      assert.equal(introspected.json.active, true, introspected.text)
      assert.equal(introspected.json.scope, 'openid read')
    })

    it("an admin user's token from the code flow works; taking the role away shuts it out, and refresh drops the scope", async () => {
      const tokens = await login(ROOT, 'openid latchkey:admin')
      assert.equal(tokens.scope, 'openid latchkey:admin')
      const listed = await api('GET', '/users', tokens.access)
      assert.equal(listed.status, 200, listed.text)
      const users = JSON.parse(listed.text) as { username: string; admin: boolean }[]
      assert.deepEqual(
        users.map((u) => [u.username, u.admin]),
        [
          ['alice', false],
          ['root', true],
        ],
      )
      const refreshed = await refresh(tokens.refresh)
      assert.equal(refreshed.status, 200, refreshed.text)
      assert.equal(refreshed.json.scope, 'openid latchkey:admin')
      const demoted = cli(['user', 'update', '--db', server.db, '--username', 'root', '--no-admin'])
      assert.equal(demoted.status, 0, demoted.stderr)
      assert.equal((demoted.json as { admin: boolean }).admin, false)
      const refused = await api('GET', '/users', refreshed.json.access_token as string)
      assert.equal(refused.status, 403, refused.text)
      const again = await refresh(refreshed.json.refresh_token as string)
      assert.equal(again.status, 200, again.text)
      assert.equal(again.json.scope, 'openid')
      // Given back through the API itself.
      const promoted = await api('PATCH', '/users/root', adminToken, { admin: true })
      assert.equal(promoted.status, 200, promoted.text)
      assert.equal(promoted.json.admin, true)
      assert.equal((await login(ROOT, 'latchkey:admin')).scope, 'latchkey:admin')
    })

    it('serves its OpenAPI 3.1 document without a token, describing exactly the registered routes', async () => {
      const res = await api('GET', '/openapi.json', undefined)
      assert.equal(res.status, 200, res.text)
      const doc = res.json as unknown as Doc
      assert.match(doc.openapi, /^3\.1\.\d+$/)
      assert.equal(typeof doc.info.title, 'string')
      assert.equal(typeof doc.info.version, 'string')
      const described: string[] = []
      for (const [path, item] of Object.entries(doc.paths)) {
        assert.ok(path.startsWith('/'), path)
        for (const method of METHODS) {
          const operation = item[method] as { operationId?: string; responses?: object } | undefined
          if (operation === undefined) continue
          described.push(`${method.toUpperCase()} ${path}`)
          assert.ok(operation.operationId, `${method} ${path} has an operationId`)
          assert.ok(
            operation.responses && Object.keys(operation.responses).length > 0,
            `${method} ${path} has responses`,
          )
        }
      }
      // Every $ref points into the document.
      for (const m of res.text.matchAll(/"\$ref":"#\/components\/(\w+)\/(\w+)"/g)) {
        assert.ok(doc.components[m[1]!]?.[m[2]!], `${m[0]} resolves`)
      }
      const registered = adminRoutes({} as unknown as ServerContext).map(
        (r) => `${r.method} ${r.path}`,
      )
      assert.deepEqual([...described].sort(), [...registered].sort())
      // And the server answers no other method on those paths.
      for (const [path, item] of Object.entries(doc.paths)) {
        for (const method of METHODS) {
          if (item[method] !== undefined) continue
          const other = await api(method.toUpperCase(), concrete(path), adminToken)
          assert.equal(other.status, 404, `${method} ${path}: ${other.text}`)
        }
      }
    })

    if (full) {
      // One test per route, from the list the server registers (which the document matches).
      for (const route of adminRoutes({} as unknown as ServerContext)) {
        const where = `${route.method} ${route.path}`
        it(`${where} refuses no token and a bad one (401), a user's token and a client's without the scope (403)`, async () => {
          const path = concrete(route.path)
          const none = await api(route.method, path, undefined)
          assert.equal(none.status, 401, where)
          assert.equal(none.headers['www-authenticate'], 'Bearer realm="latchkey"', where)
          const bad = await api(route.method, path, 'not-a-token')
          assert.equal(bad.status, 401, where)
          assert.match(String(bad.headers['www-authenticate']), /error="invalid_token"/, where)
          for (const token of [userToken, plainClientToken]) {
            const res = await api(route.method, path, token)
            assert.equal(res.status, 403, `${where}: ${res.text}`)
            assert.equal(res.json.error, 'insufficient_scope', where)
            assert.match(String(res.headers['www-authenticate']), /scope="latchkey:admin"/)
          }
        })
      }
    }

    it('clients: create (secret once), list, show, rotate the secret, delete; 409, 404 and 400', async () => {
      const created = await api('POST', '/clients', adminToken, {
        client_id: 'api-made',
        grant_types: ['client_credentials'],
        scope: 'read',
      })
      assert.equal(created.status, 201, created.text)
      const secret = created.json.client_secret as string
      assert.ok(secret.length >= 20)
      const token = await server.post('/token', { grant_type: 'client_credentials' }, [
        'api-made',
        secret,
      ])
      assert.equal(token.status, 200, token.text)
      const again = await api('POST', '/clients', adminToken, {
        client_id: 'api-made',
        grant_types: ['client_credentials'],
      })
      assert.equal(again.status, 409, again.text)
      const bad = await api('POST', '/clients', adminToken, { client_id: 'x', grant_types: 'no' })
      assert.equal(bad.status, 400, bad.text)
      assert.equal(bad.json.error, 'invalid_request')
      const unknownField = await api('POST', '/clients', adminToken, {
        client_id: 'y',
        grant_types: ['client_credentials'],
        secret_hash: 'x',
      })
      assert.equal(unknownField.status, 400, unknownField.text)
      const notJson = await request(`${server.url}/admin/v1/clients`, {
        method: 'POST',
        headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
        body: '{',
      })
      assert.equal(notJson.status, 400, notJson.text)
      const form = await request(`${server.url}/admin/v1/users`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${adminToken}`,
          'content-type': 'application/x-www-form-urlencoded',
        },
        body: 'username=formed&password=a+long+enough+password',
      })
      assert.equal(form.status, 400, form.text)
      assert.equal(form.json.error_description, 'request body must be application/json')
      const shown = await api('GET', '/clients/api-made', adminToken)
      assert.equal(shown.status, 200)
      assert.equal(shown.json.client_id, 'api-made')
      assert.equal(shown.json.client_secret, undefined)
      const listed = await api('GET', '/clients', adminToken)
      const ids = (JSON.parse(listed.text) as { client_id: string }[]).map((c) => c.client_id)
      assert.ok(ids.includes('api-made') && ids.includes('ops'))
      assert.ok(!listed.text.includes(secret))
      // The secret rotated: returned once, the old one refused at /token, the new one taken.
      const rotated = await api('POST', '/clients/api-made/rotate-secret', adminToken)
      assert.equal(rotated.status, 200, rotated.text)
      const fresh = rotated.json.client_secret as string
      assert.ok(fresh.length >= 20 && fresh !== secret)
      const tokenWith = (s: string): Promise<HttpResponse> =>
        server.post('/token', { grant_type: 'client_credentials' }, ['api-made', s])
      const deadline = Date.now() + 10_000
      let old = await tokenWith(secret)
      while (old.status === 200 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 100))
        old = await tokenWith(secret)
      }
      assert.equal(old.status, 401, old.text)
      assert.equal((await tokenWith(fresh)).status, 200)
      assert.ok(!(await api('GET', '/clients/api-made', adminToken)).text.includes(fresh))
      assert.equal((await api('POST', '/clients/nobody/rotate-secret', adminToken)).status, 404)
      // The CLI runs the same operation.
      const cliRotated = cli(['client', 'rotate-secret', '--db', server.db, '--id', 'api-made'])
      assert.equal(cliRotated.status, 0, cliRotated.stderr)
      const third = (cliRotated.json as { client_secret: string }).client_secret
      assert.ok(third.length >= 20 && third !== fresh)
      const publicOne = cli(['client', 'rotate-secret', '--db', server.db, '--id', 'nobody'])
      assert.notEqual(publicOne.status, 0)
      const deleted = await api('DELETE', '/clients/api-made', adminToken)
      assert.equal(deleted.status, 200, deleted.text)
      assert.equal((await api('GET', '/clients/api-made', adminToken)).status, 404)
      assert.equal((await api('DELETE', '/clients/api-made', adminToken)).status, 404)
    })

    it('clients: update replaces what is given and keeps the rest; refused like a bad creation', async () => {
      const made = await api('POST', '/clients', adminToken, {
        client_id: 'patched',
        grant_types: ['client_credentials'],
        scope: 'read write',
        client_name: 'Before',
      })
      assert.equal(made.status, 201, made.text)
      const secret = made.json.client_secret as string
      const changed = await api('PATCH', '/clients/patched', adminToken, {
        scope: 'read',
        access_token_format: 'opaque',
        client_name: null,
        resource_server: true,
      })
      assert.equal(changed.status, 200, changed.text)
      assert.equal(changed.json.scope, 'read')
      assert.equal(changed.json.access_token_format, 'opaque')
      assert.equal(changed.json.client_name, null)
      assert.equal(changed.json.resource_server, true)
      assert.deepEqual(changed.json.grant_types, ['client_credentials'])
      assert.equal(changed.json.client_secret, undefined)
      // The change is what the token endpoint now does: the secret still works, the scope narrowed.
      const narrowed = await server.post(
        '/token',
        { grant_type: 'client_credentials', scope: 'write' },
        ['patched', secret],
      )
      assert.equal(narrowed.status, 400, narrowed.text)
      assert.equal(narrowed.json.error, 'invalid_scope')
      const opaque = await server.post('/token', { grant_type: 'client_credentials' }, [
        'patched',
        secret,
      ])
      assert.equal(opaque.status, 200, opaque.text)
      assert.ok(!String(opaque.json.access_token).startsWith('eyJ'), 'an opaque token now')
      // What createClient refuses, update refuses too, and nothing changes.
      const noRedirect = await api('PATCH', '/clients/patched', adminToken, {
        grant_types: ['authorization_code'],
      })
      assert.equal(noRedirect.status, 400, noRedirect.text)
      assert.match(String(noRedirect.json.error_description), /redirect-uri/)
      for (const body of [
        { client_id: 'renamed' },
        { client_secret: 'x'.repeat(30) },
        { token_endpoint_auth_method: 'none' },
      ]) {
        const refused = await api('PATCH', '/clients/patched', adminToken, body)
        assert.equal(refused.status, 400, refused.text)
      }
      assert.equal((await api('PATCH', '/clients/nobody', adminToken, { scope: 'a' })).status, 404)
      const shown = await api('GET', '/clients/patched', adminToken)
      assert.equal(shown.json.scope, 'read')
      const audit = await api('GET', '/audit?kind=client.updated', adminToken)
      const events = JSON.parse(audit.text) as { subject: string; details: { fields: string[] } }[]
      const mine = events.filter((e) => e.subject === 'patched')
      assert.equal(mine.length, 1, audit.text)
      assert.deepEqual(mine[0]!.details.fields.sort(), [
        'access_token_format',
        'client_name',
        'resource_server',
        'scope',
      ])
    })

    it('users: create, list, update, unlock, delete; never a password hash', async () => {
      const created = await api('POST', '/users', adminToken, {
        username: 'bob',
        password: 'another long password',
        email: 'bob@example.com',
      })
      assert.equal(created.status, 201, created.text)
      assert.equal(created.json.username, 'bob')
      assert.equal(
        (
          await api('POST', '/users', adminToken, {
            username: 'bob',
            password: 'another long password',
          })
        ).status,
        409,
      )
      const short = await api('POST', '/users', adminToken, { username: 'carol', password: 'x' })
      assert.equal(short.status, 400, short.text)
      const updated = await api('PATCH', '/users/bob', adminToken, { name: 'Bob B', email: null })
      assert.equal(updated.status, 200, updated.text)
      assert.equal(updated.json.name, 'Bob B')
      assert.equal(updated.json.email, null)
      assert.equal((await api('PATCH', '/users/nobody', adminToken, { name: 'N' })).status, 404)
      const unlocked = await api('POST', '/users/bob/unlock', adminToken)
      assert.equal(unlocked.status, 200, unlocked.text)
      assert.ok(unlocked.json.unlocked_at)
      const listed = await api('GET', '/users', adminToken)
      assert.ok(listed.text.includes('"bob"'))
      assert.ok(!/password|\$argon|\$scrypt/i.test(listed.text), listed.text)
      assert.equal((await api('DELETE', '/users/bob', adminToken)).status, 200)
      assert.equal((await api('DELETE', '/users/bob', adminToken)).status, 404)
    })

    it('sessions: listed by user and by client, revoked (its refresh token then refused)', async () => {
      const byUser = await api('GET', '/sessions?user=alice', adminToken)
      assert.equal(byUser.status, 200, byUser.text)
      const sessions = JSON.parse(byUser.text) as { id: string; client_id: string }[]
      assert.equal(sessions.length, 1)
      const byClient = JSON.parse((await api('GET', '/sessions?client=web', adminToken)).text) as {
        id: string
      }[]
      assert.ok(byClient.some((s) => s.id === sessions[0]!.id))
      assert.equal((await api('GET', '/sessions', adminToken)).status, 400)
      assert.equal((await api('GET', '/sessions?user=nobody', adminToken)).status, 404)
      const revoked = await api('DELETE', `/sessions/${sessions[0]!.id}`, adminToken)
      assert.equal(revoked.status, 200, revoked.text)
      assert.deepEqual(revoked.json.revoked, [sessions[0]!.id])
      const refused = await refresh(userRefresh)
      assert.equal(refused.status, 400, refused.text)
      assert.equal(refused.json.error, 'invalid_grant')
      assert.equal((await api('DELETE', `/sessions/${sessions[0]!.id}x`, adminToken)).status, 404)
    })

    it('keys: listed, rotated, retired; revocations listed', async () => {
      const listed = await api('GET', '/keys', adminToken)
      assert.equal(listed.status, 200, listed.text)
      assert.ok(!/"d"\s*:|private/i.test(listed.text))
      const before = JSON.parse(listed.text) as { kid: string }[]
      const rotated = await api('POST', '/keys/rotate', adminToken, {
        alg: 'ES256',
        activate_in: 60,
      })
      assert.equal(rotated.status, 201, rotated.text)
      const kid = rotated.json.kid as string
      assert.ok(!before.some((k) => k.kid === kid))
      assert.equal((await api('POST', '/keys/rotate', adminToken, { alg: 'HS256' })).status, 400)
      const retired = await api('POST', `/keys/${kid}/retire`, adminToken)
      assert.equal(retired.status, 200, retired.text)
      assert.equal(retired.json.state, 'retired')
      assert.equal((await api('POST', `/keys/${kid}/retire`, adminToken)).status, 409)
      assert.equal((await api('POST', '/keys/nokey/retire', adminToken)).status, 404)
      const events = await api('GET', '/revocations?limit=1000', adminToken)
      assert.equal(events.status, 200, events.text)
      const kinds = (JSON.parse(events.text) as { kind: string; value: string }[]).map(
        (e) => `${e.kind}:${e.value}`,
      )
      assert.ok(kinds.includes(`kid:${kid}`), events.text)
      assert.ok(
        kinds.some((k) => k.startsWith('sid:')),
        events.text,
      )
      assert.equal((await api('GET', '/revocations?limit=0', adminToken)).status, 400)
    })

    it('audit: records who changed what through the API, and lists it with filters', async () => {
      const made = await api('POST', '/clients', adminToken, {
        client_id: 'audited',
        grant_types: ['client_credentials'],
      })
      assert.equal(made.status, 201, made.text)
      assert.equal((await api('POST', '/clients/audited/rotate-secret', adminToken)).status, 200)
      assert.equal((await api('DELETE', '/clients/audited', adminToken)).status, 200)
      const listed = await api('GET', '/audit?actor=api:client:ops&limit=1000', adminToken)
      assert.equal(listed.status, 200, listed.text)
      const events = JSON.parse(listed.text) as {
        id: number
        kind: string
        actor: string
        subject: string | null
        address: string | null
      }[]
      const mine = events.filter((e) => e.subject === 'audited')
      // Newest first: deleted, then the rotation, then the creation.
      assert.deepEqual(
        mine.map((e) => e.kind),
        ['client.deleted', 'client.secret_rotated', 'client.created'],
        listed.text,
      )
      for (const e of mine) {
        assert.equal(e.actor, 'api:client:ops')
        assert.equal(e.address, '127.0.0.1')
      }
      assert.ok(!/secret_hash|client_secret/.test(listed.text), 'no secret in the audit log')
      const byKind = await api('GET', '/audit?kind=client.secret_rotated', adminToken)
      assert.equal(byKind.status, 200, byKind.text)
      const kinds = new Set((JSON.parse(byKind.text) as { kind: string }[]).map((e) => e.kind))
      assert.deepEqual([...kinds], ['client.secret_rotated'])
      assert.equal((await api('GET', '/audit?limit=0', adminToken)).status, 400)
      assert.equal((await api('GET', '/audit?colour=red', adminToken)).status, 400)
    })
  })
}

engineSuite(
  'SQLite',
  () => {
    const { dir, cleanup } = tempDir()
    return Promise.resolve({
      db: `sqlite:${join(dir, 'admin.db')}`,
      done: () => Promise.resolve(cleanup()),
    })
  },
  true,
)

engineSuite(
  'PostgreSQL',
  async () => {
    const database: TestDatabase = await createTestDatabase()
    return { db: database.url, done: () => database.drop() }
  },
  false,
)
