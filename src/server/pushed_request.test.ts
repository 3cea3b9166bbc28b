import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { createSqliteStore } from '../store/sqlite/index.js'
import type { PushedRequestRecord, Store } from '../store/types.js'
import {
  checkPushedMark,
  pushedMark,
  pushRequest,
  PUSHED_REQUEST_SECONDS,
  REQUEST_URI_PREFIX,
  takePushedRequest,
} from './pushed_request.js'

const NOW = 1_700_000_000
const PARAMS = { response_type: 'code', client_id: 'web', redirect_uri: 'https://app.example/cb' }

describe('pushed requests', () => {
  it('hands out a 256-bit request_uri and stores only its hash, for at most 60 s', async () => {
    const store = createSqliteStore(':memory:')
    const seen: PushedRequestRecord[] = []
    const spy = new Proxy(store, {
      get: (target, name) =>
        name === 'putPushed'
          ? (record: PushedRequestRecord) => (seen.push(record), target.putPushed(record))
          : (Reflect.get(target, name) as unknown),
    })
    const { requestUri, expiresIn } = await pushRequest(spy, 'web', PARAMS, NOW)
    assert.match(requestUri, new RegExp(`^${REQUEST_URI_PREFIX}[A-Za-z0-9_-]{43}$`))
    assert.ok(expiresIn > 0 && expiresIn <= 60)
    assert.equal(seen[0]?.expiresAt, NOW + PUSHED_REQUEST_SECONDS)
    assert.equal(JSON.stringify(seen).includes(requestUri.slice(REQUEST_URI_PREFIX.length)), false)

    assert.equal(await takePushedRequest(store, requestUri, 'other', NOW), null)
    assert.equal(await takePushedRequest(store, requestUri, 'web', NOW + expiresIn), null)
    assert.deepEqual(await takePushedRequest(store, requestUri, 'web', NOW + expiresIn - 1), PARAMS)
    assert.equal(await takePushedRequest(store, requestUri, 'web', NOW), null, 'single use')
    await store.close()
  })

  it('looks nothing up for a request_uri that is not of the shape it hands out', async () => {
    const untouched = new Proxy({} as Store, {
      get: () => () => assert.fail('the store was consulted'),
    })
    for (const uri of [
      '',
      'https://attacker.example/request.jwt',
      REQUEST_URI_PREFIX,
      REQUEST_URI_PREFIX + 'A'.repeat(42),
      REQUEST_URI_PREFIX + 'A'.repeat(44),
      REQUEST_URI_PREFIX + 'A'.repeat(42) + '=',
    ]) {
      assert.equal(await takePushedRequest(untouched, uri, 'web', NOW), null, uri)
    }
  })

  it('accepts the login form mark only for the same CSRF token and the same parameters', () => {
    const key = Buffer.alloc(32, 7)
    const csrf = 'c'.repeat(43)
    const mark = pushedMark(key, csrf, PARAMS)
    assert.equal(checkPushedMark(key, csrf, PARAMS, mark), true)
    assert.equal(checkPushedMark(key, 'd'.repeat(43), PARAMS, mark), false)
    assert.equal(checkPushedMark(key, csrf, { ...PARAMS, scope: 'admin' }, mark), false)
    assert.equal(checkPushedMark(Buffer.alloc(32, 8), csrf, PARAMS, mark), false)
    assert.equal(checkPushedMark(key, undefined, PARAMS, mark), false)
    assert.equal(checkPushedMark(key, csrf, PARAMS, undefined), false)
    assert.equal(checkPushedMark(key, csrf, PARAMS, 'short'), false)
  })
})
