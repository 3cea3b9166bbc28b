/**
 * The CLI never creates a database by accident: only `latchkey init` and `latchkey serve` do. Every
 * other command refuses a SQLite file that does not exist, naming the `latchkey init` that creates it.
 */
import assert from 'node:assert/strict'
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { cli, startServer, tempDir } from '../helpers/server.js'
import { createTestDatabase } from '../store/postgres_databases.js'

/** Every command that takes `--db`, other than `serve` and `init`, with the arguments it needs. */
const COMMANDS: { args: string[]; input?: string }[] = [
  { args: ['client', 'create', '--id', 'svc', '--grant', 'client_credentials'] },
  { args: ['client', 'list'] },
  { args: ['client', 'show', '--id', 'svc'] },
  { args: ['client', 'delete', '--id', 'svc'] },
  { args: ['user', 'create', '--username', 'alice'], input: 'correct horse battery\n' },
  { args: ['user', 'list'] },
  { args: ['user', 'delete', '--username', 'alice'] },
  { args: ['user', 'set-password', '--username', 'alice'], input: 'correct horse battery\n' },
  { args: ['session', 'list', '--user', 'alice'] },
  { args: ['session', 'revoke', '--user', 'alice'] },
  { args: ['keys', 'list'] },
  { args: ['keys', 'rotate', '--activate-in', '0'] },
  { args: ['keys', 'retire', '--kid', 'k1'] },
  { args: ['token', 'inspect', 'A'.repeat(43)] },
  { args: ['token', 'inspect', 'eyJhbGciOiJFUzI1NiJ9.e30.AAAA'] },
]

describe('latchkey init, and commands that refuse a database that does not exist', () => {
  let dir: string
  let cleanup: () => void
  before(() => {
    ;({ dir, cleanup } = tempDir())
  })
  after(() => cleanup())

  it('refuses a missing SQLite file in every command with one line naming latchkey init, creating nothing', () => {
    const folder = join(dir, 'typo')
    const path = join(folder, 'latchkey.db')
    for (const { args, input } of COMMANDS) {
      const result = cli([...args, '--db', `sqlite:${path}`], { input })
      assert.notEqual(result.status, 0, args.join(' '))
      assert.equal(result.stdout, '', args.join(' '))
      const lines = result.stderr.trimEnd().split('\n')
      assert.equal(lines.length, 1, result.stderr)
      assert.match(lines[0] ?? '', /^latchkey: no database at .*latchkey init --db sqlite:/)
      assert.equal(existsSync(folder), false, `${args.join(' ')} created ${folder}`)
    }
    // In an existing folder: no file, no -wal, no -shm (every command opens the store one way).
    mkdirSync(folder)
    for (const { args, input } of [COMMANDS[0]!, COMMANDS[4]!, COMMANDS[11]!]) {
      assert.notEqual(cli([...args, '--db', `sqlite:${path}`], { input }).status, 0)
    }
    assert.deepEqual(readdirSync(folder), [])
  })

  it('refuses the default database when it does not exist, from LATCHKEY_DB too', () => {
    const cwd = join(dir, 'elsewhere')
    mkdirSync(cwd)
    const inCwd = (args: string[], env: NodeJS.ProcessEnv = {}): ReturnType<typeof cli> =>
      cli(args, { env: { LATCHKEY_DB: undefined, ...env }, cwd })
    const listed = inCwd(['client', 'list'])
    assert.notEqual(listed.status, 0)
    assert.match(listed.stderr, /^latchkey: no database at .*run `latchkey init` to create one/)
    const fromEnv = inCwd(['client', 'list'], { LATCHKEY_DB: 'sqlite:./typo.db' })
    assert.notEqual(fromEnv.status, 0)
    assert.match(fromEnv.stderr, /latchkey init --db sqlite:\.\/typo\.db/)
    assert.deepEqual(readdirSync(cwd), [])

    // `init` then creates the default database where `serve` would look for it.
    const init = inCwd(['init'])
    assert.equal(init.status, 0, init.stderr)
    assert.ok(existsSync(join(cwd, '.latchkey', 'latchkey.db')))
    assert.deepEqual(inCwd(['client', 'list']).json, [])
  })

  it('creates the database, its folder and first keys once (access tokens, RS256 ID tokens), then says created: false', () => {
    const db = `sqlite:${join(dir, 'new', 'deeper', 'latchkey.db')}`
    const first = cli(['init', '--db', db])
    assert.equal(first.status, 0, first.stderr)
    const made = first.json as Record<string, unknown>
    assert.deepEqual(Object.keys(made).sort(), [
      'alg',
      'created',
      'db',
      'encrypted',
      'id_token_kid',
      'kid',
    ])
    assert.equal(made.db, db)
    assert.equal(made.created, true)
    assert.equal(made.alg, 'ES256')
    assert.equal(made.encrypted, false)
    assert.equal(typeof made.kid, 'string')
    assert.equal(typeof made.id_token_kid, 'string')
    assert.notEqual(made.id_token_kid, made.kid)

    const second = cli(['init', '--db', db])
    assert.equal(second.status, 0, second.stderr)
    assert.deepEqual(second.json, { ...made, created: false })

    const keys = cli(['keys', 'list', '--db', db]).json as {
      kid: string
      alg: string
      state: string
    }[]
    assert.deepEqual(
      keys.map((k) => [k.kid, k.alg, k.state]),
      [
        [made.kid, 'ES256', 'active'],
        [made.id_token_kid, 'RS256', 'active'],
      ],
    )
    const created = cli([
      'client',
      'create',
      '--db',
      db,
      '--id',
      'svc',
      '--grant',
      'client_credentials',
    ])
    assert.equal(created.status, 0, created.stderr)
  })

  it('makes the first key as serve would: LATCHKEY_SIGNING_ALG, --signing-alg, sealed with LATCHKEY_KEY_ENCRYPTION_SECRET', async () => {
    const secret = 'an init key-encryption secret'
    const path = join(dir, 'sealed.db')
    const sealed = cli(['init', '--db', `sqlite:${path}`], {
      env: { LATCHKEY_SIGNING_ALG: 'EdDSA', LATCHKEY_KEY_ENCRYPTION_SECRET: secret },
    })
    assert.equal(sealed.status, 0, sealed.stderr)
    assert.equal((sealed.json as { alg: string }).alg, 'EdDSA')
    assert.equal((sealed.json as { encrypted: boolean }).encrypted, true)
    assert.equal(readFileSync(path).includes('PRIVATE KEY'), false)

    const flag = cli(['init', '--db', `sqlite:${join(dir, 'rs.db')}`, '--signing-alg', 'RS256'])
    assert.equal((flag.json as { alg: string }).alg, 'RS256')
    // RS256 access tokens: one key serves both.
    const rs = flag.json as { kid: string; id_token_kid: string }
    assert.equal(rs.id_token_kid, rs.kid)
    for (const bad of [
      ['--signing-alg', 'HS256'],
      ['--db', 'mysql://localhost/x'],
    ]) {
      const refused = cli(['init', '--db', `sqlite:${join(dir, 'bad.db')}`, ...bad])
      assert.notEqual(refused.status, 0)
      assert.equal(refused.stderr.trimEnd().split('\n').length, 1, refused.stderr)
    }
    const short = cli(['init', '--db', `sqlite:${join(dir, 'bad.db')}`], {
      env: { LATCHKEY_KEY_ENCRYPTION_SECRET: 'too short' },
    })
    assert.notEqual(short.status, 0)
    assert.equal(existsSync(join(dir, 'bad.db')), false)

    // The server starts on the database init made, with the same secret, and signs with its key.
    const server = await startServer({
      db: `sqlite:${path}`,
      env: { LATCHKEY_SIGNING_ALG: 'EdDSA', LATCHKEY_KEY_ENCRYPTION_SECRET: secret },
    })
    try {
      const jwks = (await server.get('/.well-known/jwks.json')).json as { keys: { kid: string }[] }
      const made = sealed.json as { kid: string; id_token_kid: string }
      assert.deepEqual(
        jwks.keys.map((k) => k.kid),
        [made.kid, made.id_token_kid],
      )
    } finally {
      await server.dispose()
    }
  })

  it('finds the database serve created: init on it says created: false', async () => {
    const server = await startServer({ dir: join(dir) })
    try {
      const init = cli(['init', '--db', server.db])
      assert.equal(init.status, 0, init.stderr)
      assert.equal((init.json as { created: boolean }).created, false)
    } finally {
      await server.stop()
    }
  })

  it('runs the migrations on a new PostgreSQL database and hides its password', async () => {
    const database = await createTestDatabase()
    try {
      const url = new URL(database.url)
      url.password = 'not-needed-with-trust'
      const first = cli(['init', '--db', url.href])
      assert.equal(first.status, 0, first.stderr)
      const made = first.json as { db: string; created: boolean }
      assert.equal(made.created, true)
      assert.ok(!first.stdout.includes('not-needed-with-trust'))
      assert.match(made.db, /\*\*\*@/)
      assert.equal(
        (cli(['init', '--db', database.url]).json as { created: boolean }).created,
        false,
      )
      assert.deepEqual(cli(['client', 'list', '--db', database.url]).json, [])
    } finally {
      await database.drop()
    }
  })
})
