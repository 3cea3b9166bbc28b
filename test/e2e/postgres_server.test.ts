/**
 * `latchkey serve --db postgres://…` end to end: the real bin and CLI on a database of the test's
 * own (dropped after), tokens issued, introspected and revoked over HTTP, and a restart that keeps
 * what was revoked revoked.
 */

import assert from 'node:assert/strict'
import { spawn, type ChildProcess } from 'node:child_process'
import { after, before, describe, it } from 'node:test'
import {
  BIN,
  basic,
  cli,
  freePort,
  request,
  type CreatedClient,
  type HttpResponse,
} from '../helpers/server.js'
import { createTestDatabase, type TestDatabase } from '../store/postgres_databases.js'

interface Server {
  url: string
  output(): string
  post(path: string, form: Record<string, string>, auth: [string, string]): Promise<HttpResponse>
  stop(): Promise<number | null>
}

/** Starts `latchkey serve --db URL` on `port` and resolves once /healthz answers 200. */
async function serve(db: string, port: number, env: NodeJS.ProcessEnv = {}): Promise<Server> {
  const child: ChildProcess = spawn(
    process.execPath,
    [BIN, 'serve', '--port', String(port), '--db', db],
    {
      // One process, whose pool the connection count is about (workers: test/e2e/workers.test.ts).
      env: { ...process.env, LATCHKEY_LOG_LEVEL: 'warn', LATCHKEY_WORKERS: '1', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  )
  let output = ''
  child.stdout?.on('data', (c: Buffer) => (output += c.toString()))
  child.stderr?.on('data', (c: Buffer) => (output += c.toString()))
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve))
  const url = `http://127.0.0.1:${port}`
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM')
    return exited
  }
  for (const deadline = Date.now() + 15_000; ;) {
    if (child.exitCode !== null) throw new Error(`server exited with ${child.exitCode}: ${output}`)
    const healthy = await request(`${url}/healthz`).then(
      (res) => res.status === 200,
      () => false,
    )
    if (healthy) break
    if (Date.now() > deadline) {
      await stop()
      throw new Error(`server did not become healthy: ${output}`)
    }
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  return {
    url,
    output: () => output,
    post: (path, form, auth) =>
      request(url + path, {
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          authorization: basic(auth[0], auth[1]),
        },
        body: new URLSearchParams(form).toString(),
      }),
    stop,
  }
}

describe('latchkey serve on PostgreSQL', () => {
  let database: TestDatabase
  before(async () => {
    database = await createTestDatabase()
  })
  after(() => database.drop())

  function createClient(id: string, ...args: string[]): CreatedClient {
    const result = cli(['client', 'create', '--db', database.url, '--id', id, ...args])
    assert.equal(result.status, 0, result.stderr)
    return result.json as CreatedClient
  }

  it('issues, introspects and revokes tokens, and keeps them revoked across a restart', async () => {
    const port = await freePort()
    // Trust auth ignores the password; it is here to show that it is never printed.
    const withPassword = new URL(database.url)
    withPassword.password = 'never-printed-pw'
    let server = await serve(withPassword.href, port)
    assert.equal(server.output().includes('never-printed-pw'), false)
    assert.match(server.output(), /postgres:\*\*\*@/)
    try {
      const jwt = createClient('svc', '--grant', 'client_credentials')
      const opaque = createClient(
        'svc-o',
        '--grant',
        'client_credentials',
        '--access-token-format',
        'opaque',
      )
      assert.equal(
        cli([
          'client',
          'create',
          '--db',
          database.url,
          '--id',
          'svc',
          '--grant',
          'client_credentials',
        ]).status,
        1,
        'a duplicate id fails',
      )
      const api = createClient('api', '--grant', 'client_credentials', '--resource-server')
      // Created after the server started, found by it at once: the CLI wrote to the same database.
      const [svc, svcOpaque] = [
        [jwt.client_id, jwt.client_secret],
        [opaque.client_id, opaque.client_secret],
      ] as [string, string][]
      const who: [string, string] = [api.client_id, api.client_secret]

      const token = async (auth: [string, string]) => {
        const res = await server.post('/token', { grant_type: 'client_credentials' }, auth)
        assert.equal(res.status, 200, res.text)
        return (res.json as { access_token: string }).access_token
      }
      const active = async (value: string) => {
        const res = await server.post('/introspect', { token: value }, who)
        assert.equal(res.status, 200, res.text)
        return (res.json as { active: boolean }).active
      }

      const live = await token(svc!)
      const revoked = await token(svc!)
      assert.equal(await active(live), true)
      assert.equal(await active(revoked), true)
      assert.equal((await server.post('/revoke', { token: revoked }, svc!)).status, 200)
      assert.equal(await active(revoked), false)
      assert.equal(await active(live), true)

      // An opaque token lives in PostgreSQL; revoking it deletes it and appends its event, and one
      // for its jti (which the phantom JWTs a gateway got for it carry).
      const other = await token(svcOpaque!)
      assert.equal(await active(other), true)
      assert.equal((await server.post('/revoke', { token: other }, svcOpaque!)).status, 200)
      assert.equal(await active(other), false)

      // Everything the server knows is in PostgreSQL (three clients, and the console's).
      const [counts] = await database.query<{ clients: string; revocations: string }>(
        `SELECT (SELECT count(*) FROM clients) AS clients,
                (SELECT count(*) FROM revocations) AS revocations`,
      )
      assert.deepEqual(counts, { clients: '4', revocations: '3' })

      assert.equal(await server.stop(), 0)
      // Same port, so the same issuer: tokens name their issuer.
      server = await serve(database.url, port)
      assert.equal(await active(revoked), false)
      assert.equal(await active(other), false)
      assert.equal(await active(live), true)
      const listed = cli(['client', 'list', '--db', database.url])
      assert.equal(listed.status, 0, listed.stderr)
      assert.deepEqual(
        (listed.json as { client_id: string }[]).map((c) => c.client_id),
        ['api', 'latchkey-console', 'svc', 'svc-o'],
      )
    } finally {
      await server.stop()
    }
  })

  it('opens at most LATCHKEY_DB_POOL_SIZE connections, plus the one that listens, under load', async () => {
    const server = await serve(database.url, await freePort(), { LATCHKEY_DB_POOL_SIZE: '2' })
    try {
      const svc = createClient(
        'pool-svc',
        '--grant',
        'client_credentials',
        '--access-token-format',
        'opaque',
      )
      // 40 writes at once: a pool of 10 (the default) would open more than 2.
      const responses = await Promise.all(
        Array.from({ length: 40 }, () =>
          server.post('/token', { grant_type: 'client_credentials' }, [
            svc.client_id,
            svc.client_secret,
          ]),
        ),
      )
      assert.deepEqual(new Set(responses.map((r) => r.status)), new Set([200]))
      const [row] = await database.query<{ count: string }>(
        `SELECT count(*) FROM pg_stat_activity
         WHERE datname = current_database() AND application_name = 'latchkey'`,
      )
      assert.ok(Number(row?.count) <= 3, `${row?.count} connections`)
      assert.ok(Number(row?.count) >= 2, `${row?.count} connections`)
    } finally {
      await server.stop()
    }
  })

  it('reports an unreachable database in one line naming the host, never the password', async () => {
    const port = await freePort()
    const db = `postgres://postgres:hunter2-not-shown@127.0.0.1:${port}/latchkey`
    const result = cli(['client', 'list', '--db', db])
    assert.notEqual(result.status, 0)
    assert.equal(result.stdout, '')
    const lines = result.stderr.trimEnd().split('\n')
    assert.equal(lines.length, 1, result.stderr)
    assert.match(lines[0] ?? '', new RegExp(`^latchkey: .*127\\.0\\.0\\.1:${port}/latchkey`))
    assert.ok(!result.stderr.includes('hunter2'))
  })
})
