/**
 * `latchkey user create|list|delete|set-password` through the real command, with the password on
 * standard input, checked by signing in at a real server's login page.
 */
import assert from 'node:assert/strict'
import { existsSync, readFileSync } from 'node:fs'
import { after, before, describe, it } from 'node:test'
import { openStore } from '../../src/store/index.js'
import { Browser, formFields, pkce, authorizeQuery } from '../helpers/browser.js'
import { cli, createClient, startServer, type TestServer } from '../helpers/server.js'

const REDIRECT = 'https://app.example/callback'
/** The fields of a printed user. */
const USER_FIELDS = [
  'admin',
  'created_at',
  'email',
  'email_verified',
  'family_name',
  'given_name',
  'id',
  'name',
  'username',
]
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/

/** A failed command: non-zero exit, nothing on stdout, exactly one line on stderr. */
function assertOneLineFailure(result: ReturnType<typeof cli>, pattern?: RegExp): void {
  assert.notEqual(result.status, 0, result.stdout)
  assert.equal(result.stdout, '')
  const lines = result.stderr.trimEnd().split('\n')
  assert.equal(lines.length, 1, `expected one line on stderr, got: ${result.stderr}`)
  assert.match(lines[0] ?? '', /^latchkey: /)
  if (pattern) assert.match(lines[0] ?? '', pattern)
}

describe('latchkey user', () => {
  let server: TestServer

  const user = (args: string[], input?: string) =>
    cli(['user', ...args, '--db', server.db], input === undefined ? {} : { input })

  /** Whether `password` gets `username` through the login page. */
  async function canSignIn(username: string, password: string): Promise<boolean> {
    const browser = new Browser(server.url)
    const page = await browser.get(
      authorizeQuery({ clientId: 'web', redirectUri: REDIRECT, challenge: pkce().challenge }),
    )
    assert.equal(page.status, 200, page.text.slice(0, 300))
    const res = await browser.postForm('/authorize', {
      ...formFields(page.text),
      username,
      password,
    })
    assert.ok(res.status === 303 || res.status === 401, `${res.status}`)
    return res.status === 303
  }

  const listed = (): { id: string; username: string }[] =>
    user(['list']).json as { id: string; username: string }[]

  before(async () => {
    server = await startServer()
    createClient(server.db, 'web', '--grant', 'authorization_code', '--redirect-uri', REDIRECT)
  })
  after(() => server.dispose())

  it('is listed in --help', () => {
    const help = cli(['user', '--help'])
    assert.equal(help.status, 0)
    for (const command of ['create', 'update', 'list', 'delete', 'set-password']) {
      assert.match(help.stdout, new RegExp(command))
    }
  })

  it('creates a user from a password on a pipe and prints id, username, an empty profile and created_at', async () => {
    const before = Math.floor(Date.now() / 1000)
    const result = user(['create', '--username', 'alice'], 'correct horse battery\n')
    assert.equal(result.status, 0, result.stderr)
    const json = result.json as Record<string, unknown>
    assert.deepEqual(Object.keys(json).sort(), USER_FIELDS)
    assert.equal(json.email, null)
    assert.equal(json.email_verified, false)
    assert.match(String(json.id), UUID)
    assert.equal(json.username, 'alice')
    const created = Date.parse(String(json.created_at)) / 1000
    assert.ok(created >= before && created <= before + 60, String(json.created_at))
    assert.ok(!result.stdout.includes('correct horse'), 'the password is not printed')
    assert.equal(await canSignIn('alice', 'correct horse battery'), true)
    assert.equal(await canSignIn('alice', 'correct horse battery '), false)
  })

  it('stores only an argon2id hash of the password', async () => {
    const password = 'a very distinctive password 4711'
    assert.equal(user(['create', '--username', 'hashed'], password).status, 0)
    const path = server.db.slice('sqlite:'.length)
    for (const file of [path, `${path}-wal`]) {
      if (existsSync(file)) assert.equal(readFileSync(file).includes(password), false, file)
    }
    const store = await openStore(server.db)
    try {
      const record = await store.getUserByUsername('hashed')
      assert.match(record?.passwordHash ?? '', /^\$argon2id\$v=19\$m=19456,t=2,p=1\$/)
    } finally {
      await store.close()
    }
  })

  it('reads one line: only the line ending is stripped, and what follows is ignored', async () => {
    assert.equal(
      user(['create', '--username', 'crlf'], '  spaced out pw \r\nnext line\n').status,
      0,
    )
    assert.equal(await canSignIn('crlf', '  spaced out pw '), true)
    assert.equal(await canSignIn('crlf', 'spaced out pw'), false)
    assert.equal(user(['create', '--username', 'noeol'], 'no newline at all').status, 0)
    assert.equal(await canSignIn('noeol', 'no newline at all'), true)
  })

  it('refuses an empty password and one under 8 characters', async () => {
    assertOneLineFailure(user(['create', '--username', 'empty'], ''), /empty/)
    assertOneLineFailure(user(['create', '--username', 'empty'], '\n'), /empty/)
    assertOneLineFailure(user(['create', '--username', 'short'], '1234567\n'), /8 characters/)
    assertOneLineFailure(user(['create', '--username', 'short'], 'ünïcødé\n'), /8 characters/)
    assertOneLineFailure(user(['create', '--username', 'long'], 'x'.repeat(5000) + '\n'))
    const names = listed().map((u) => u.username)
    for (const n of ['empty', 'short', 'long']) assert.ok(!names.includes(n), n)
    assert.equal(user(['create', '--username', 'eight'], '12345678\n').status, 0)
    assert.equal(await canSignIn('eight', '12345678'), true)
  })

  it('refuses a duplicate username with one line', () => {
    assert.equal(user(['create', '--username', 'dup'], 'first password\n').status, 0)
    assertOneLineFailure(user(['create', '--username', 'dup'], 'second password\n'), /exists/)
    assert.equal(listed().filter((u) => u.username === 'dup').length, 1)
  })

  it('refuses malformed usernames', () => {
    for (const name of [
      '',
      'has space',
      'tab\there',
      'new\nline',
      'jürgen',
      'x'.repeat(65),
      '\u202eevil',
    ]) {
      assertOneLineFailure(user(['create', '--username', name], 'good password\n'))
    }
    assert.equal(user(['create', '--username', 'x'.repeat(64)], 'good password\n').status, 0)
    assert.equal(user(['create', '--username', 'a.b-c_d@e+f!'], 'good password\n').status, 0)
  })

  it('lists users as a JSON array ordered by username, without password hashes', () => {
    const users = user(['list'])
    assert.equal(users.status, 0)
    const list = users.json as Record<string, unknown>[]
    assert.ok(Array.isArray(list))
    const names = list.map((u) => String(u.username))
    assert.deepEqual(names, [...names].sort())
    for (const u of list) assert.deepEqual(Object.keys(u).sort(), USER_FIELDS)
    assert.ok(!users.stdout.includes('argon2'))
  })

  it('sets a new password: the old one stops working', async () => {
    assert.equal(user(['create', '--username', 'bob'], 'old password 1\n').status, 0)
    const changed = user(['set-password', '--username', 'bob'], 'new password 2\n')
    assert.equal(changed.status, 0, changed.stderr)
    assert.equal((changed.json as Record<string, unknown>).username, 'bob')
    assert.equal(await canSignIn('bob', 'old password 1'), false)
    assert.equal(await canSignIn('bob', 'new password 2'), true)
    assertOneLineFailure(user(['set-password', '--username', 'bob'], 'short\n'), /8 characters/)
    assertOneLineFailure(user(['set-password', '--username', 'nobody'], 'whatever pw\n'), /nobody/)
  })

  it('deletes a user with a sub revocation covering their access tokens', async () => {
    createClient(
      server.db,
      'long-lived',
      '--grant',
      'client_credentials',
      '--access-token-ttl',
      '900',
    )
    const created = user(['create', '--username', 'carol'], 'carol password\n')
    const id = (created.json as { id: string }).id
    assert.equal(await canSignIn('carol', 'carol password'), true)

    const deleted = user(['delete', '--username', 'carol'])
    assert.equal(deleted.status, 0, deleted.stderr)
    assert.deepEqual(deleted.json, { id, username: 'carol', deleted: true })
    assert.ok(!listed().some((u) => u.username === 'carol'))
    assert.equal(await canSignIn('carol', 'carol password'), false)

    const store = await openStore(server.db)
    try {
      const events = (await store.listRevocations(0, 1000)).filter((e) => e.kind === 'sub')
      assert.equal(events.length, 1)
      const [event] = events
      assert.ok(event)
      assert.equal(event.value, id)
      assert.equal(event.clientId, null)
      assert.equal(event.expiresAt - event.createdAt, 900, 'the longest access-token lifetime')
    } finally {
      await store.close()
    }
    assertOneLineFailure(user(['delete', '--username', 'carol']), /carol/)
  })
})
