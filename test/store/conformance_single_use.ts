/**
 * Conformance: `SingleUseStore` (values used once across nodes, pushed authorization requests) and
 * their pruning by `pruneTokens`. Part of the one suite run by `runStoreConformance`; engine-agnostic.
 */

import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { ConflictError } from '../../src/errors.js'
import type { PushedRequestRecord, Store } from '../../src/store/types.js'
import { NOW } from './fixtures.js'

function pushed(hash: string, overrides: Partial<PushedRequestRecord> = {}): PushedRequestRecord {
  return {
    hash,
    clientId: 'web',
    params: {
      response_type: 'code',
      client_id: 'web',
      redirect_uri: 'https://app.example.com/cb',
      scope: 'openid orders:read',
      state: 'é & ü "quoted"',
    },
    expiresAt: NOW + 60,
    ...overrides,
  }
}

/** Registers the tests; `store()` is the open, empty store of the running test. */
export function describeSingleUseConformance(store: () => Store): void {
  describe('single-use values', () => {
    it('accepts a value the first time and refuses it again while unexpired', async () => {
      assert.equal(await store().useOnce('client_assertion', 'j1', NOW + 60, NOW), true)
      assert.equal(await store().useOnce('client_assertion', 'j1', NOW + 60, NOW + 1), false)
      assert.equal(await store().useOnce('client_assertion', 'j1', NOW + 120, NOW + 59), false)
    })

    it('keeps kinds apart: one key may be used once in each kind', async () => {
      assert.equal(await store().useOnce('client_assertion', 'same', NOW + 60, NOW), true)
      assert.equal(await store().useOnce('dpop', 'same', NOW + 60, NOW), true)
      assert.equal(await store().useOnce('dpop', 'same', NOW + 60, NOW), false)
      assert.equal(await store().useOnce('client_assertion', 'other', NOW + 60, NOW), true)
    })

    it('accepts a value again once its use has expired, and refuses it again after that', async () => {
      assert.equal(await store().useOnce('dpop', 'j1', NOW + 10, NOW), true)
      assert.equal(await store().useOnce('dpop', 'j1', NOW + 10, NOW + 9), false)
      // Live while now < expiresAt: at expiresAt it is gone.
      assert.equal(await store().useOnce('dpop', 'j1', NOW + 40, NOW + 10), true)
      assert.equal(await store().useOnce('dpop', 'j1', NOW + 40, NOW + 39), false)
    })

    it('lets exactly one of many concurrent uses of a value win', async () => {
      const results = await Promise.all(
        Array.from({ length: 20 }, () =>
          store().useOnce('client_assertion', 'raced', NOW + 60, NOW),
        ),
      )
      assert.equal(results.filter((r) => r).length, 1)
    })

    it('lets exactly one of many concurrent uses of an expired value win', async () => {
      await store().useOnce('client_assertion', 'raced', NOW + 5, NOW)
      const results = await Promise.all(
        Array.from({ length: 20 }, () =>
          store().useOnce('client_assertion', 'raced', NOW + 60, NOW + 5),
        ),
      )
      assert.equal(results.filter((r) => r).length, 1)
    })
  })

  describe('pushed authorization requests', () => {
    it('gives the parameters once to the client that pushed them, then null', async () => {
      const request = pushed('r1')
      await store().putPushed(request)
      assert.deepEqual(await store().takePushed('r1', 'web', NOW), request.params)
      assert.equal(await store().takePushed('r1', 'web', NOW), null)
    })

    it('returns null for an unknown hash', async () => {
      await store().putPushed(pushed('r1'))
      assert.equal(await store().takePushed('nope', 'web', NOW), null)
    })

    it('gives another client null and leaves the request to its own client', async () => {
      const request = pushed('r1')
      await store().putPushed(request)
      assert.equal(await store().takePushed('r1', 'intruder', NOW), null)
      assert.deepEqual(await store().takePushed('r1', 'web', NOW), request.params)
    })

    it('returns null for an expired request (live while now < expiresAt)', async () => {
      await store().putPushed(pushed('r1', { expiresAt: NOW + 60 }))
      assert.equal(await store().takePushed('r1', 'web', NOW + 60), null)
      await store().putPushed(pushed('r2', { expiresAt: NOW + 60 }))
      assert.notEqual(await store().takePushed('r2', 'web', NOW + 59), null)
    })

    it('refuses a taken hash with ConflictError and keeps the first request', async () => {
      const first = pushed('r1')
      await store().putPushed(first)
      await assert.rejects(
        store().putPushed(pushed('r1', { clientId: 'other', params: { a: 'b' } })),
        ConflictError,
      )
      assert.deepEqual(await store().takePushed('r1', 'web', NOW), first.params)
    })

    it('keeps an empty parameter set', async () => {
      await store().putPushed(pushed('r1', { params: {} }))
      assert.deepEqual(await store().takePushed('r1', 'web', NOW), {})
    })

    it('lets exactly one of many concurrent takes get the request', async () => {
      const request = pushed('raced')
      await store().putPushed(request)
      const results = await Promise.all(
        Array.from({ length: 20 }, () => store().takePushed('raced', 'web', NOW)),
      )
      const won = results.filter((r) => r !== null)
      assert.equal(won.length, 1)
      assert.deepEqual(won[0], request.params)
    })
  })

  describe('pruning single-use values', () => {
    it('deletes expired uses and pushed requests with the expired tokens, and keeps live ones', async () => {
      await store().useOnce('dpop', 'old', NOW - 5, NOW - 10)
      await store().useOnce('dpop', 'live', NOW + 60, NOW)
      await store().putPushed(pushed('old', { expiresAt: NOW - 1 }))
      await store().putPushed(pushed('live', { expiresAt: NOW + 60 }))

      assert.equal(await store().pruneTokens(NOW), 2)
      assert.equal(await store().pruneTokens(NOW), 0)
      assert.equal(await store().useOnce('dpop', 'live', NOW + 60, NOW), false)
      assert.notEqual(await store().takePushed('live', 'web', NOW), null)
    })
  })
}
