import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import {
  DEFAULT_DB,
  ENVIRONMENT,
  FLAGS,
  isLoopbackHost,
  loadServeConfig,
  SETTINGS,
  type SettingName,
} from './config.js'
import type { Setting } from './settings.js'
import { ConfigError } from './errors.js'

/** The message of the `ConfigError` that `load` throws. */
function refusal(load: () => unknown): string {
  try {
    load()
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${String(err)}`)
    return err.message
  }
  assert.fail('expected a ConfigError')
}

/**
 * A value each setting refuses. Numbers, enums and switches refuse `abc`; the strings below need their
 * own; `null` marks a setting that takes any non-empty string (checked where it is used).
 */
const REFUSED: Partial<Record<keyof typeof ENVIRONMENT, string | null>> = {
  host: null,
  db: null,
  redis: null,
  defaultAudience: null,
  metricsHost: null,
  issuer: 'not a url',
  redisPrefix: 'two words',
  keyEncryptionSecret: 'too short',
}
/** Settings whose value must never be quoted back. */
const SECRET = new Set(['keyEncryptionSecret', 'db', 'redis'])

describe('serve configuration', () => {
  it('applies defaults and derives the issuer from host and port', () => {
    const c = loadServeConfig({}, {})
    assert.equal(c.port, 8080)
    assert.equal(c.host, '127.0.0.1')
    assert.equal(c.db, DEFAULT_DB)
    assert.equal(c.issuer, 'http://127.0.0.1:8080')
    assert.equal(c.defaultAudience, c.issuer)
    assert.equal(c.signingAlg, 'ES256')
    assert.ok(Object.isFrozen(c))
  })

  it('lets flags win over the environment', () => {
    const env = {
      LATCHKEY_PORT: '9000',
      LATCHKEY_ISSUER: 'https://env.example',
      LATCHKEY_AUTH_FAILURE_WINDOW: '7',
    }
    const c = loadServeConfig({ port: '9100' }, env)
    assert.equal(c.port, 9100)
    assert.equal(c.issuer, 'https://env.example')
    assert.equal(c.rateLimit.windowSeconds, 7)
    assert.equal(c.rateLimit.perClient, 10)
  })

  it('reads the login throttle from the environment', () => {
    const c = loadServeConfig(
      {},
      {
        LATCHKEY_LOGIN_FAILURES_PER_USER_ADDRESS: '2',
        LATCHKEY_LOGIN_FAILURES_PER_USER: '3',
        LATCHKEY_LOGIN_FAILURES_PER_ADDRESS: '5',
        LATCHKEY_LOGIN_FAILURE_WINDOW: '4',
      },
    )
    assert.deepEqual(
      { ...c.loginLimit },
      { perUserAddress: 2, perUser: 3, perAddress: 5, windowSeconds: 4 },
    )
    const defaults = loadServeConfig({}, {}).loginLimit
    assert.ok(
      defaults.perUser > defaults.perAddress,
      'one address cannot lock a user out everywhere',
    )
    assert.equal(c.rateLimit.perAddress, 20, 'the client-authentication throttle is untouched')
  })

  it('strips a trailing slash from the issuer and refuses queries, fragments, other schemes and other spellings', () => {
    assert.equal(
      loadServeConfig({ issuer: 'https://as.example/auth/' }, {}).issuer,
      'https://as.example/auth',
    )
    assert.equal(
      loadServeConfig({ issuer: 'https://as.example/' }, {}).issuer,
      'https://as.example',
    )
    for (const issuer of [
      'https://as.example/?a=1',
      'https://as.example/#x',
      'ftp://as.example',
      'nope',
      'HTTPS://AS.example',
      'https://as.example:443',
      'https://as.example/a/../auth',
      'https://as.example/auth//',
      'https://as.example/a%2Fb',
    ]) {
      assert.throws(() => loadServeConfig({ issuer }, {}), ConfigError)
    }
  })

  it('names the flag and the environment variable of the offending option, and what it accepts', () => {
    assert.equal(
      refusal(() => loadServeConfig({}, { LATCHKEY_PORT: 'abc' })),
      '--port / LATCHKEY_PORT must be an integer from 0 to 65535 (got "abc")',
    )
    assert.equal(
      refusal(() => loadServeConfig({ port: 'eighty' }, {})),
      '--port / LATCHKEY_PORT must be an integer from 0 to 65535 (got "eighty")',
    )
    assert.equal(
      refusal(() => loadServeConfig({}, { LATCHKEY_AUTH_FAILURE_WINDOW: '0' })),
      'LATCHKEY_AUTH_FAILURE_WINDOW must be an integer of at least 1 (got "0")',
    )
    assert.equal(
      refusal(() => loadServeConfig({ signingAlg: 'HS256' }, {})),
      '--signing-alg / LATCHKEY_SIGNING_ALG must be one of ES256, RS256, PS256, EdDSA (got "HS256")',
    )
    assert.equal(
      refusal(() => loadServeConfig({}, { LATCHKEY_REFRESH_GRACE_SECONDS: '61' })),
      'LATCHKEY_REFRESH_GRACE_SECONDS must be a number from 0 to 60 (got "61")',
    )
    assert.equal(
      refusal(() => loadServeConfig({}, { LATCHKEY_KEY_ENCRYPTION_SECRET: 'short' })),
      'LATCHKEY_KEY_ENCRYPTION_SECRET must be at least 16 characters',
    )
  })

  it('names the flag or environment variable of every setting in the table when its value is refused', () => {
    for (const [key, env] of Object.entries(ENVIRONMENT) as [keyof typeof ENVIRONMENT, string][]) {
      const bad = key in REFUSED ? REFUSED[key] : 'abc'
      if (bad === null || bad === undefined) {
        assert.doesNotThrow(() =>
          loadServeConfig({}, { [env]: 'abc', LATCHKEY_ISSUER: 'http://x' }),
        )
        continue
      }
      const flag = (FLAGS as Partial<Record<string, string>>)[key]
      const label = flag === undefined ? env : `${flag} / ${env}`
      const fromEnv = refusal(() => loadServeConfig({}, { [env]: bad }))
      assert.ok(fromEnv.startsWith(`${label} must `), `${key}: ${fromEnv}`)
      assert.ok(!/invalid input|expected/i.test(fromEnv), `${key} speaks zod: ${fromEnv}`)
      if (SECRET.has(key)) assert.ok(!fromEnv.includes(bad), `${key} echoes its value`)
      else assert.ok(fromEnv.endsWith(`(got ${JSON.stringify(bad)})`), `${key}: ${fromEnv}`)
      if (flag !== undefined) {
        // The CLI hands a flag (or commander's reading of the variable) over as a flag: same words.
        assert.equal(
          refusal(() => loadServeConfig({ [key]: bad }, {})),
          fromEnv,
        )
      }
    }
  })

  it('refuses switches other than true, false, 1 and 0', () => {
    for (const env of ['LATCHKEY_TRUST_PROXY', 'LATCHKEY_LOG_REQUESTS']) {
      for (const bad of ['yes', 'no', 'on', 'TRUE ', '2']) {
        assert.match(
          refusal(() => loadServeConfig({}, { [env]: bad })),
          new RegExp(`^${env} must be true, false, 1 or 0 \\(got`),
        )
      }
    }
    const read = (value: string): boolean =>
      loadServeConfig({}, { LATCHKEY_TRUST_PROXY: value, LATCHKEY_LOG_REQUESTS: value }).trustProxy
    assert.deepEqual(['true', '1', 'false', '0'].map(read), [true, true, false, false])
    assert.equal(loadServeConfig({}, { LATCHKEY_LOG_REQUESTS: '0' }).logRequests, false)
    assert.equal(loadServeConfig({}, {}).logRequests, true)
  })

  it('has a row in the settings table for every setting, whose default is the one applied', () => {
    const c = loadServeConfig({}, {}) as unknown as Record<string, unknown>
    const leaves = Object.entries(c).flatMap(([key, value]) =>
      typeof value === 'object' && value !== null
        ? Object.keys(value).map((inner) => `${key}.${inner}`)
        : [key],
    )
    for (const leaf of leaves) assert.ok(leaf in SETTINGS, `${leaf} is missing from SETTINGS`)
    for (const name of Object.keys(SETTINGS) as SettingName[]) {
      const row: Setting = SETTINGS[name]
      if (row.default === undefined) continue
      const [group, inner] = name.split('.')
      const value =
        inner === undefined ? c[name] : (c[group ?? ''] as Record<string, unknown>)[inner]
      assert.equal(value, row.default, name)
    }
  })

  it('reads every setting from its environment variable, including those without a flag', () => {
    const c = loadServeConfig(
      {},
      {
        LATCHKEY_BODY_LIMIT: '2048',
        LATCHKEY_LEEWAY: '7',
        LATCHKEY_KEY_RELOAD_MS: '250',
        LATCHKEY_JWKS_MAX_AGE: '30',
      },
    )
    assert.deepEqual([c.bodyLimit, c.leeway, c.keyReloadMs, c.jwksMaxAge], [2048, 7, 250, 30])
  })

  it("gives every flag the setting's name as commander spells it", () => {
    for (const [key, flag] of Object.entries(FLAGS)) {
      const camel = flag.slice(2).replace(/-([a-z])/g, (_, c: string) => c.toUpperCase())
      assert.equal(camel, key)
      assert.ok(key in ENVIRONMENT, `${key} has a flag and no environment variable`)
    }
  })

  it('refuses a non-loopback host without an issuer, naming --issuer', () => {
    for (const host of [
      '0.0.0.0',
      '::',
      '192.168.1.10',
      'auth.example',
      '10.0.0.1',
      '::ffff:10.1.2.3',
    ]) {
      assert.match(
        refusal(() => loadServeConfig({ host }, {})),
        /^--host \/ LATCHKEY_HOST .* set --issuer \/ LATCHKEY_ISSUER /,
      )
      assert.equal(
        loadServeConfig({ host, issuer: 'https://auth.example' }, {}).issuer,
        'https://auth.example',
      )
    }
    for (const host of [
      '127.0.0.1',
      '127.1.2.3',
      '::1',
      'localhost',
      '[::1]',
      '::ffff:127.0.0.1',
    ]) {
      assert.ok(isLoopbackHost(host), host)
    }
    assert.equal(loadServeConfig({ host: '::1' }, {}).issuer, 'http://[::1]:8080')
    assert.equal(loadServeConfig({ host: 'localhost' }, {}).issuer, 'http://localhost:8080')
  })

  it('keeps /metrics on the main listener unless a metrics port is set, on the same host by default', () => {
    const plain = loadServeConfig({}, {})
    assert.equal(plain.metricsPort, undefined)
    const moved = loadServeConfig({ host: '::1' }, { LATCHKEY_METRICS_PORT: '9464' })
    assert.equal(moved.metricsPort, 9464)
    assert.equal(moved.metricsHost, '::1')
    assert.equal(
      loadServeConfig({}, { LATCHKEY_METRICS_PORT: '9464', LATCHKEY_METRICS_HOST: '127.0.0.2' })
        .metricsHost,
      '127.0.0.2',
    )
    assert.match(
      refusal(() => loadServeConfig({ port: '9000', metricsPort: '9000' }, {})),
      /^--metrics-port \/ LATCHKEY_METRICS_PORT must differ from --port/,
    )
  })

  it('reads the PostgreSQL pool size from the environment, 10 by default', () => {
    assert.equal(loadServeConfig({}, {}).dbPoolSize, 10)
    assert.equal(loadServeConfig({}, { LATCHKEY_DB_POOL_SIZE: '3' }).dbPoolSize, 3)
  })
})
