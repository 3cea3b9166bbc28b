/**
 * `latchkey serve` with a wrong setting: it stops at once, before touching the store, with one line
 * that names the flag and the environment variable to fix.
 */
import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { defaultText, ENVIRONMENT, FLAGS, SETTINGS, type SettingName } from '../../src/settings.js'
import { cli, tempDir } from '../helpers/server.js'

describe('latchkey serve settings', () => {
  let dir: string
  let cleanup: () => void
  let db: string
  before(() => {
    ;({ dir, cleanup } = tempDir())
    db = `sqlite:${join(dir, 'never.db')}`
  })
  after(() => cleanup())

  /** Runs `serve` and returns its one stderr line, after checking it failed fast and created nothing. */
  function refused(args: string[], env: NodeJS.ProcessEnv = {}): string {
    const started = Date.now()
    const result = cli(['serve', '--db', db, ...args], { env })
    const elapsed = Date.now() - started
    assert.notEqual(result.status, 0, 'serve should have refused to start')
    assert.ok(elapsed < 10_000, `took ${elapsed} ms to refuse`)
    assert.equal(result.stdout, '')
    const lines = result.stderr.trimEnd().split('\n')
    assert.equal(lines.length, 1, `expected one line on stderr, got: ${result.stderr}`)
    assert.ok(!existsSync(join(dir, 'never.db')), 'a refused start must not create the database')
    return lines[0] ?? ''
  }

  it('refuses a port that is not a number, naming --port and LATCHKEY_PORT', () => {
    assert.equal(
      refused([], { LATCHKEY_PORT: 'abc' }),
      'latchkey: --port / LATCHKEY_PORT must be an integer from 0 to 65535 (got "abc")',
    )
    assert.equal(
      refused(['--port', '70000']),
      'latchkey: --port / LATCHKEY_PORT must be an integer from 0 to 65535 (got "70000")',
    )
  })

  it('refuses a switch that is neither true nor false instead of reading it as false', () => {
    assert.equal(
      refused([], { LATCHKEY_TRUST_PROXY: 'yes' }),
      'latchkey: LATCHKEY_TRUST_PROXY must be true, false, 1 or 0 (got "yes")',
    )
    assert.match(refused([], { LATCHKEY_LOG_REQUESTS: 'off' }), /^latchkey: LATCHKEY_LOG_REQUESTS /)
  })

  it('names the environment variable of a nested setting', () => {
    assert.match(
      refused([], { LATCHKEY_AUTH_FAILURES_PER_ADDRESS: 'many' }),
      /^latchkey: LATCHKEY_AUTH_FAILURES_PER_ADDRESS must be an integer of at least 1 \(got "many"\)$/,
    )
  })

  it('refuses a non-loopback --host without --issuer', () => {
    for (const host of ['0.0.0.0', '::']) {
      assert.match(refused(['--host', host, '--port', '0']), /set --issuer \/ LATCHKEY_ISSUER/)
    }
    assert.match(refused([], { LATCHKEY_HOST: '0.0.0.0' }), /--issuer/)
  })

  it('lists every flag of the settings table in serve --help, with its environment variable', () => {
    const help = cli(['serve', '--help'])
    assert.equal(help.status, 0)
    const text = help.stdout.replace(/\s+/g, ' ')
    for (const [key, flag] of Object.entries(FLAGS)) {
      const env = ENVIRONMENT[key as keyof typeof FLAGS]
      assert.match(text, new RegExp(`${flag} <[a-z]+> .*?\\(env: ${env}\\)`), `${key}`)
    }
  })

  it('lists every setting of the table in serve --help with its environment variable and default', () => {
    const help = cli(['serve', '--help'])
    assert.equal(help.status, 0)
    const text = help.stdout.replace(/\s+/g, ' ')
    const escape = (x: string): string => x.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
    for (const name of Object.keys(SETTINGS) as SettingName[]) {
      const { env } = SETTINGS[name]
      const shown = escape(`(default: ${defaultText(name)})`)
      // A flag's line ends with commander's `(env: …)`; a setting without one is under Environment.
      const entry = new RegExp(
        `${shown} \\(env: ${env}\\)|${env} [^()]*(\\([^()]*\\)[^()]*)*${shown}`,
      )
      assert.match(text, entry, name)
    }
    assert.match(text, /Environment \(settings without a flag\):/)
  })
})
