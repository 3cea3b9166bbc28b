/**
 * `latchkey user create|update` with profile options (OpenID Connect standard claims) through the
 * real command: what is stored and printed, how a field is cleared, what is refused (one line on
 * stderr, non-zero exit, nothing changed).
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { cli, initDatabase, tempDir } from '../helpers/server.js'

const PASSWORD = 'correct horse battery\n'

/** A failed command: non-zero exit, nothing on stdout, exactly one line on stderr. */
function assertOneLineFailure(result: ReturnType<typeof cli>, pattern?: RegExp): void {
  assert.notEqual(result.status, 0, result.stdout)
  assert.equal(result.stdout, '')
  const lines = result.stderr.trimEnd().split('\n')
  assert.equal(lines.length, 1, `expected one line on stderr, got: ${result.stderr}`)
  assert.match(lines[0] ?? '', /^latchkey: /)
  if (pattern) assert.match(lines[0] ?? '', pattern)
}

type Printed = Record<string, unknown>

describe('latchkey user profile options', () => {
  const { dir, cleanup } = tempDir()
  const db = `sqlite:${dir}/latchkey.db`
  const user = (args: string[], input?: string) =>
    cli(['user', ...args, '--db', db], input === undefined ? {} : { input })
  const profile = (p: Printed): Printed => ({
    email: p.email,
    email_verified: p.email_verified,
    name: p.name,
    given_name: p.given_name,
    family_name: p.family_name,
  })
  const shown = (username: string): Printed => {
    const all = user(['list']).json as Printed[]
    const found = all.find((u) => u.username === username)
    assert.ok(found, username)
    return found
  }

  before(() => initDatabase(db))
  after(cleanup)

  it('creates a user with every profile field and prints them', () => {
    const result = user(
      [
        'create',
        '--username',
        'alice',
        '--email',
        'alice@example.com',
        '--email-verified',
        '--name',
        'Alice Liddell',
        '--given-name',
        'Alice',
        '--family-name',
        'Liddell',
      ],
      PASSWORD,
    )
    assert.equal(result.status, 0, result.stderr)
    const expected = {
      email: 'alice@example.com',
      email_verified: true,
      name: 'Alice Liddell',
      given_name: 'Alice',
      family_name: 'Liddell',
    }
    assert.deepEqual(profile(result.json as Printed), expected)
    assert.deepEqual(profile(shown('alice')), expected)
  })

  it('keeps names of any script and apostrophes, plus-addressing and subdomains', () => {
    const result = user(
      [
        'create',
        '--username',
        'zoe',
        '--email',
        "zoe.o'neil+news@mail.example.co.uk",
        '--name',
        'Zoë O’Neil 李',
      ],
      PASSWORD,
    )
    assert.equal(result.status, 0, result.stderr)
    assert.deepEqual(profile(result.json as Printed), {
      email: "zoe.o'neil+news@mail.example.co.uk",
      email_verified: false,
      name: 'Zoë O’Neil 李',
      given_name: null,
      family_name: null,
    })
  })

  it('updates only the fields given, and a new address is no longer verified', () => {
    const named = user(['update', '--username', 'alice', '--given-name', 'Alicia'])
    assert.equal(named.status, 0, named.stderr)
    assert.deepEqual(profile(named.json as Printed), {
      email: 'alice@example.com',
      email_verified: true,
      name: 'Alice Liddell',
      given_name: 'Alicia',
      family_name: 'Liddell',
    })
    const moved = user(['update', '--username', 'alice', '--email', 'alice@example.org'])
    assert.equal(moved.status, 0, moved.stderr)
    assert.equal((moved.json as Printed).email, 'alice@example.org')
    assert.equal((moved.json as Printed).email_verified, false)
    const verified = user(['update', '--username', 'alice', '--email-verified'])
    assert.equal((verified.json as Printed).email_verified, true)
    const unverified = user(['update', '--username', 'alice', '--no-email-verified'])
    assert.equal((unverified.json as Printed).email_verified, false)
    assert.deepEqual(profile(shown('alice')), profile(unverified.json as Printed))
  })

  it('keeps the password and sign-in data on update', () => {
    const before = shown('alice')
    const result = user(['update', '--username', 'alice', '--name', 'A. Liddell'])
    assert.equal(result.status, 0, result.stderr)
    const after = result.json as Printed
    assert.equal(after.id, before.id)
    assert.equal(after.created_at, before.created_at)
    // Setting a password reads stdin; an update does not ask for one.
    assert.equal(result.stderr, '')
  })

  it('clears a field given an empty value, and clearing the email ends its verification', () => {
    user(['update', '--username', 'alice', '--email-verified'])
    const result = user(['update', '--username', 'alice', '--email', '', '--family-name', ''])
    assert.equal(result.status, 0, result.stderr)
    const p = profile(result.json as Printed)
    assert.equal(p.email, null)
    assert.equal(p.email_verified, false)
    assert.equal(p.family_name, null)
    assert.equal(p.name, 'A. Liddell', 'untouched')
    assert.deepEqual(profile(shown('alice')), p)
  })

  it('refuses malformed addresses with one line and changes nothing', () => {
    const before = shown('zoe')
    for (const email of [
      'no-at-sign',
      '@example.com',
      'alice@',
      'alice@@example.com',
      'alice@exa mple.com',
      'al ice@example.com',
      'alice.@example.com',
      '.alice@example.com',
      'alice@-example.com',
      'alice@example..com',
      'alice@example.com\n',
      'alice\u0007@example.com',
      'alice@example.com\u202e',
      `${'a'.repeat(65)}@example.com`,
      `a@${'b'.repeat(60)}.${'c'.repeat(60)}.${'d'.repeat(60)}.${'e'.repeat(70)}.com`,
    ]) {
      assertOneLineFailure(user(['update', '--username', 'zoe', '--email', email]), /--email/)
    }
    assert.deepEqual(shown('zoe'), before)
  })

  it('refuses names with control or format characters, surrounding spaces, or over 200 characters', () => {
    const before = shown('zoe')
    for (const [option, value] of [
      ['--name', 'Zoe\nO'],
      ['--name', 'Zoe\u0007'],
      ['--given-name', ' Zoe'],
      ['--family-name', 'Neil '],
      ['--family-name', 'Ne\u202eil'],
      ['--name', 'Zo\u200be'],
      ['--name', 'x'.repeat(201)],
    ] as const) {
      assertOneLineFailure(user(['update', '--username', 'zoe', option, value]), new RegExp(option))
    }
    assert.deepEqual(shown('zoe'), before)
    assert.equal(user(['update', '--username', 'zoe', '--name', 'é'.repeat(200)]).status, 0)
  })

  it('refuses --email-verified without an address', () => {
    assertOneLineFailure(
      user(['create', '--username', 'nomail', '--email-verified'], PASSWORD),
      /--email-verified/,
    )
    assert.equal(
      (user(['list']).json as Printed[]).some((u) => u.username === 'nomail'),
      false,
      'no user was created',
    )
    assertOneLineFailure(
      user(['update', '--username', 'zoe', '--email', '', '--email-verified']),
      /--email-verified/,
    )
  })

  it('refuses a bad profile on create before reading a password', () => {
    // No password on stdin: the profile is refused first, so the message names it.
    assertOneLineFailure(user(['create', '--username', 'bob', '--email', 'bob'], ''), /--email/)
  })

  it('refuses to update an unknown user', () => {
    assertOneLineFailure(user(['update', '--username', 'nobody', '--name', 'N']), /nobody/)
  })
})
