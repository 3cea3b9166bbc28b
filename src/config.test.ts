import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { DEFAULT_DB, loadServeConfig } from './config.js'
import { ConfigError } from './errors.js'

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

  it('strips a trailing slash from the issuer and refuses queries, fragments and other schemes', () => {
    assert.equal(
      loadServeConfig({ issuer: 'https://as.example/' }, {}).issuer,
      'https://as.example',
    )
    for (const issuer of [
      'https://as.example/?a=1',
      'https://as.example/#x',
      'ftp://as.example',
      'nope',
    ]) {
      assert.throws(() => loadServeConfig({ issuer }, {}), ConfigError)
    }
  })

  it('names the offending option', () => {
    assert.throws(() => loadServeConfig({ port: 'eighty' }, {}), /^ConfigError: port/)
    assert.throws(
      () => loadServeConfig({}, { LATCHKEY_AUTH_FAILURE_WINDOW: '0' }),
      /rateLimit\.windowSeconds/,
    )
    assert.throws(
      () => loadServeConfig({}, { LATCHKEY_KEY_ENCRYPTION_SECRET: 'short' }),
      /keyEncryptionSecret/,
    )
    assert.throws(() => loadServeConfig({ signingAlg: 'HS256' }, {}), /signingAlg/)
    assert.throws(() => loadServeConfig({}, { LATCHKEY_DB_POOL_SIZE: '0' }), /dbPoolSize/)
  })

  it('reads the PostgreSQL pool size from the environment, 10 by default', () => {
    assert.equal(loadServeConfig({}, {}).dbPoolSize, 10)
    assert.equal(loadServeConfig({}, { LATCHKEY_DB_POOL_SIZE: '3' }).dbPoolSize, 3)
  })
})
