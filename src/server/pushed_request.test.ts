import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { createSqliteStore } from '../store/sqlite/index.js'
import type { PushedRequestRecord, Store } from '../store/types.js'
import {
  CARRIED_SECONDS,
  carryPushed,
  pushRequest,
  PUSHED_REQUEST_SECONDS,
  REQUEST_URI_PREFIX,
  takeCarried,
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

  it('gives the login form a handle to its pushed request: once, for its client, while it lives', async () => {
    const store = createSqliteStore(':memory:')
    const handle = await carryPushed(store, 'web', PARAMS, NOW)
    assert.match(handle, /^[A-Za-z0-9_-]{43}$/)
    assert.equal(await takeCarried(store, handle, 'other', NOW), null, 'another client')
    assert.equal(await takeCarried(store, handle, 'web', NOW + CARRIED_SECONDS), null, 'expired')
    assert.deepEqual(await takeCarried(store, handle, 'web', NOW + 1), PARAMS)
    assert.equal(await takeCarried(store, handle, 'web', NOW + 1), null, 'single use')
    // A handle is not a request_uri, nor the other way round.
    const { requestUri } = await pushRequest(store, 'web', PARAMS, NOW)
    const reference = requestUri.slice(REQUEST_URI_PREFIX.length)
    assert.equal(await takeCarried(store, reference, 'web', NOW), null)
    const second = await carryPushed(store, 'web', PARAMS, NOW)
    assert.equal(await takePushedRequest(store, REQUEST_URI_PREFIX + second, 'web', NOW), null)
    for (const junk of [undefined, '', 'short', 'A'.repeat(44)]) {
      assert.equal(await takeCarried(store, junk, 'web', NOW), null)
    }
    assert.equal(await takeCarried(store, second, undefined, NOW), null)
    await store.close()
  })
})
