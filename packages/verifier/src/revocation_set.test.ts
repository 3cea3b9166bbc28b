import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { parseFeedEvent, RevocationSet, type FeedEvent } from './revocation_set.js'

const NOW = 1_700_000_000

function event(kind: FeedEvent['kind'], value: string, o: Partial<FeedEvent> = {}): FeedEvent {
  return { seq: 1, kind, value, client_id: 'app', created_at: NOW, expires_at: NOW + 300, ...o }
}

const token = { jti: 'j1', sid: 's1', sub: 'u1', client_id: 'app', iat: NOW - 10, kid: 'k1' }

describe('revocation set', () => {
  it('covers a token by its jti, sid, kid or opaque hash, whenever it was issued', () => {
    for (const [kind, value] of [
      ['jti', 'j1'],
      ['sid', 's1'],
      ['kid', 'k1'],
    ] as const) {
      const set = new RevocationSet()
      set.add(event(kind, value, { created_at: NOW - 100 }))
      assert.equal(set.covers(token), true, kind)
      assert.equal(set.covers({ ...token, [kind]: 'other' }), false, kind)
    }
    const set = new RevocationSet()
    set.add(event('token', 'hash'))
    assert.equal(set.covers({ ...token, tokenHash: 'hash' }), true)
    assert.equal(set.covers(token), false)
  })

  it('covers sub and client tokens issued at or before the event, not after', () => {
    for (const kind of ['sub', 'client'] as const) {
      const set = new RevocationSet()
      set.add(event(kind, kind === 'sub' ? 'u1' : 'app'))
      assert.equal(set.covers({ ...token, iat: NOW - 1 }), true, kind)
      assert.equal(set.covers({ ...token, iat: NOW }), true, kind)
      assert.equal(set.covers({ ...token, iat: NOW + 1 }), false, kind)
      // A later event for the same subject widens the cover.
      set.add(event(kind, kind === 'sub' ? 'u1' : 'app', { created_at: NOW + 50 }))
      assert.equal(set.covers({ ...token, iat: NOW + 1 }), true, kind)
    }
  })

  it('forgets events once they have expired, and not before', () => {
    const set = new RevocationSet()
    set.add(event('jti', 'j1', { expires_at: NOW + 10 }))
    set.add(event('sub', 'u1', { expires_at: NOW + 20 }))
    set.prune(NOW + 10)
    assert.equal(set.size, 2)
    set.prune(NOW + 11)
    assert.equal(set.size, 1)
    set.prune(NOW + 21)
    assert.equal(set.size, 0)
  })

  it('parses only well-formed events', () => {
    assert.deepEqual(parseFeedEvent(event('jti', 'x')), event('jti', 'x'))
    assert.equal(parseFeedEvent({ ...event('jti', 'x'), kind: 'user' }), null)
    assert.equal(parseFeedEvent({ ...event('jti', 'x'), seq: '1' }), null)
    assert.equal(parseFeedEvent({ ...event('jti', 'x'), client_id: 5 }), null)
    assert.equal(parseFeedEvent(null), null)
  })
})
