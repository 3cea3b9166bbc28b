/**
 * Conformance: `AuditStore` — the audit log: appended events come back newest first with their
 * fields, every filter narrows, `before` pages, and pruning deletes only what is older. Part of the
 * one suite run by `runStoreConformance`; engine-agnostic.
 */

import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { AuditInput, Store } from '../../src/store/types.js'
import { NOW } from './fixtures.js'

function event(kind: string, at: number, overrides: Partial<AuditInput> = {}): AuditInput {
  return {
    at,
    kind,
    actor: 'cli:alice',
    subject: 'svc',
    address: null,
    details: {},
    ...overrides,
  }
}

/** Registers the tests; `store()` is the open, empty store of the running test. */
export function describeAuditConformance(store: () => Store): void {
  describe('audit log', () => {
    it('returns nothing when empty', async () => {
      assert.deepEqual(await store().listAudit({ limit: 10 }), [])
    })

    it('returns appended events newest first, with every field, under increasing ids', async () => {
      const first = await store().appendAudit(
        event('client.created', NOW, { details: { grants: ['client_credentials'], n: 1 } }),
      )
      const second = await store().appendAudit(
        event('client_auth.failed', NOW, {
          actor: '-',
          subject: 'web',
          address: '127.0.0.1',
          details: { reason: 'invalid secret' },
        }),
      )
      assert.ok(second > first)
      const listed = await store().listAudit({ limit: 10 })
      assert.deepEqual(listed, [
        {
          id: second,
          at: NOW,
          kind: 'client_auth.failed',
          actor: '-',
          subject: 'web',
          address: '127.0.0.1',
          details: { reason: 'invalid secret' },
        },
        {
          id: first,
          at: NOW,
          kind: 'client.created',
          actor: 'cli:alice',
          subject: 'svc',
          address: null,
          details: { grants: ['client_credentials'], n: 1 },
        },
      ])
    })

    it('keeps a null subject', async () => {
      await store().appendAudit(event('key.rotated', NOW, { subject: null }))
      const [only] = await store().listAudit({ limit: 1 })
      assert.equal(only?.subject, null)
    })

    it('filters by time, actor and kind, limits, and pages with before', async () => {
      const ids: number[] = []
      ids.push(await store().appendAudit(event('client.created', NOW - 100)))
      ids.push(await store().appendAudit(event('client.deleted', NOW - 50, { actor: 'cli:bob' })))
      ids.push(await store().appendAudit(event('client.created', NOW, { actor: '-' })))
      ids.push(await store().appendAudit(event('user.created', NOW + 50)))
      const kinds = async (filter: Parameters<Store['listAudit']>[0]): Promise<number[]> =>
        (await store().listAudit(filter)).map((e) => e.id)

      assert.deepEqual(await kinds({ limit: 10 }), [ids[3], ids[2], ids[1], ids[0]])
      assert.deepEqual(await kinds({ limit: 2 }), [ids[3], ids[2]])
      assert.deepEqual(await kinds({ limit: 10, since: NOW - 50 }), [ids[3], ids[2], ids[1]])
      assert.deepEqual(await kinds({ limit: 10, until: NOW - 50 }), [ids[1], ids[0]])
      assert.deepEqual(await kinds({ limit: 10, since: NOW - 50, until: NOW }), [ids[2], ids[1]])
      assert.deepEqual(await kinds({ limit: 10, actor: 'cli:alice' }), [ids[3], ids[0]])
      assert.deepEqual(await kinds({ limit: 10, kind: 'client.created' }), [ids[2], ids[0]])
      assert.deepEqual(await kinds({ limit: 10, kind: 'client.created', actor: '-' }), [ids[2]])
      assert.deepEqual(await kinds({ limit: 2, before: ids[2] }), [ids[1], ids[0]])
      assert.deepEqual(await kinds({ limit: 10, kind: 'session.revoked' }), [])
    })

    it('prunes only the events from before the cutoff, and ids keep increasing', async () => {
      const old = await store().appendAudit(event('client.created', NOW - 1000))
      const edge = await store().appendAudit(event('client.deleted', NOW - 500))
      const recent = await store().appendAudit(event('user.created', NOW))
      assert.equal(await store().pruneAudit(NOW - 500), 1)
      assert.deepEqual(
        (await store().listAudit({ limit: 10 })).map((e) => e.id),
        [recent, edge],
      )
      assert.equal(await store().pruneAudit(NOW - 500), 0)
      assert.equal(await store().pruneAudit(NOW + 1), 2)
      assert.deepEqual(await store().listAudit({ limit: 10 }), [])
      const next = await store().appendAudit(event('user.deleted', NOW))
      assert.ok(next > recent && recent > old)
    })
  })
}
