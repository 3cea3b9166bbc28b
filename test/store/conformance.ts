/**
 * The one storage suite. Every engine's test file calls `runStoreConformance` with its own factory;
 * an engine is done when it passes this suite unchanged. Each test states one sentence of the
 * contract in `src/store/types.ts`. Engine-agnostic: no SQL, no keys, only the `Store` interface.
 * Users, sessions, refresh tokens, what ends them and single-use values are in `./conformance_*.ts`,
 * registered below.
 */

import assert from 'node:assert/strict'
import { after, afterEach, beforeEach, describe, it } from 'node:test'
import { ConflictError, StoreUnavailableError } from '../../src/errors.js'
import type { RevocationKind, SigningKeyRecord, Store } from '../../src/store/types.js'
import { keyState, pickSigningKey } from '../../src/tokens/keys.js'
import { describeAuditConformance } from './conformance_audit.js'
import { describeConsentConformance } from './conformance_consents.js'
import { describeFeedConformance } from './conformance_feed.js'
import { describeRefreshConformance } from './conformance_refresh.js'
import { describeRevokeConformance } from './conformance_revoke.js'
import { describeSessionConformance } from './conformance_sessions.js'
import { describeSingleUseConformance } from './conformance_single_use.js'
import { describeUserConformance } from './conformance_users.js'
import { NOW, client, revocation, token } from './fixtures.js'

const KINDS: readonly RevocationKind[] = ['jti', 'token', 'sid', 'sub', 'client', 'kid']

function key(kid: string, overrides: Partial<SigningKeyRecord> = {}): SigningKeyRecord {
  return {
    kid,
    alg: 'ES256',
    publicJwk: {
      kty: 'EC',
      crv: 'P-256',
      x: 'f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU',
      y: 'x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0',
      kid,
      alg: 'ES256',
      use: 'sig',
    },
    privateKey: `-----BEGIN PRIVATE KEY-----\nnot-a-real-key-${kid}\n-----END PRIVATE KEY-----\n`,
    createdAt: NOW,
    activatesAt: NOW,
    supersededAt: null,
    publishedUntil: null,
    retiredAt: null,
    ...overrides,
  }
}

function assertIncreasing(seqs: number[]): void {
  for (let i = 1; i < seqs.length; i++) {
    assert.ok(seqs[i]! > seqs[i - 1]!, `seq ${seqs[i]} follows ${seqs[i - 1]}`)
  }
}

/**
 * Registers the suite under `describe(name)`. `makeStore` is called before every test and must
 * return an empty, open store; the suite closes it after the test. `cleanup` runs once, after the
 * last test (drop the temporary folder, database or key prefix).
 */
export function runStoreConformance(
  name: string,
  makeStore: () => Promise<Store> | Store,
  cleanup?: () => Promise<void>,
): void {
  describe(`store conformance: ${name}`, () => {
    let store: Store

    beforeEach(async () => {
      store = await makeStore()
    })
    afterEach(async () => {
      await store.close()
    })
    if (cleanup !== undefined) after(() => cleanup())

    describe('clients', () => {
      it('returns a created client with every field as it was given', async () => {
        const created = client('web', {
          grants: ['authorization_code', 'refresh_token'],
          scopes: ['openid', 'profile', 'orders:read'],
          redirectUris: ['https://app.example.com/cb', 'http://127.0.0.1:8080/cb'],
          audiences: ['https://orders.example.com', 'https://billing.example.com'],
          exchangeAudiences: ['https://ledger.example.com'],
          requirePar: true,
          requireDpop: true,
          allowedOrigins: ['https://app.example.com', 'http://localhost:5173'],
          displayName: 'Orders — “Web” <beta> & ünïcode',
          logoUri: 'https://cdn.example.com/logo.png?v=2',
          thirdParty: true,
          postLogoutRedirectUris: ['https://app.example.com/bye', 'http://127.0.0.1:8080/bye?x=1'],
          backchannelLogoutUri: 'https://app.example.com/backchannel',
          idTokenSignedResponseAlg: 'ES256',
          accessTokenFormat: 'opaque',
          accessTokenTtl: 900,
          resourceServer: true,
          createdAt: NOW + 7,
        })
        await store.createClient(created)
        assert.deepEqual(await store.getClient('web'), created)
      })

      it('keeps a public client with a null secret, no audiences and empty lists', async () => {
        const created = client('spa', {
          secretHash: null,
          authMethod: 'none',
          grants: [],
          scopes: [],
          redirectUris: [],
          audiences: [],
          exchangeAudiences: [],
        })
        await store.createClient(created)
        assert.deepEqual(await store.getClient('spa'), created)
      })

      it('keeps a private_key_jwt client with its inline key set or its key set URI', async () => {
        const inline = client('signed', {
          secretHash: null,
          authMethod: 'private_key_jwt',
          jwks: {
            keys: [
              {
                kty: 'EC',
                crv: 'P-256',
                x: 'f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU',
                y: 'x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0',
                kid: 'a',
                use: 'sig',
              },
            ],
          },
        })
        const remote = client('remote', {
          secretHash: null,
          authMethod: 'private_key_jwt',
          jwksUri: 'https://remote.example.com/jwks.json',
        })
        const post = client('post', { authMethod: 'client_secret_post' })
        for (const c of [inline, remote, post]) await store.createClient(c)
        assert.deepEqual(await store.getClient('signed'), inline)
        assert.deepEqual(await store.getClient('remote'), remote)
        assert.deepEqual(await store.listClients(), [post, remote, inline])
      })

      it('refuses a taken client id with ConflictError and keeps the first client', async () => {
        const first = client('svc', { scopes: ['read'] })
        await store.createClient(first)
        await assert.rejects(
          store.createClient(client('svc', { scopes: ['admin'] })),
          ConflictError,
        )
        assert.deepEqual(await store.getClient('svc'), first)
      })

      it('updates every field of a client but its id and leaves the others; false for an unknown id', async () => {
        const first = client('svc', { scopes: ['read'] })
        const other = client('other')
        await store.createClient(first)
        await store.createClient(other)
        const changed = {
          ...first,
          secretHash: 'another-hash',
          scopes: ['read', 'write'],
          redirectUris: ['https://app.example/cb'],
          displayName: 'Service',
          accessTokenTtl: 60,
          requireDpop: true,
        }
        assert.equal(await store.updateClient(changed), true)
        assert.deepEqual(await store.getClient('svc'), changed)
        assert.deepEqual(await store.getClient('other'), other)
        assert.equal(await store.updateClient(client('nobody')), false)
        assert.equal(await store.getClient('nobody'), null)
      })

      it('returns null for an unknown client id', async () => {
        await store.createClient(client('svc'))
        assert.equal(await store.getClient('nobody'), null)
      })

      it('lists every client ordered by id', async () => {
        for (const id of ['b', 'ab', 'a', 'c1', 'c0']) await store.createClient(client(id))
        const ids = (await store.listClients()).map((c) => c.clientId)
        assert.deepEqual(ids, ['a', 'ab', 'b', 'c0', 'c1'])
      })

      it('lists no clients when none exist', async () => {
        assert.deepEqual(await store.listClients(), [])
      })

      it('deletes a client with its opaque tokens and leaves other clients tokens', async () => {
        await store.createClient(client('gone'))
        await store.createClient(client('kept'))
        await store.saveToken(token('h1', { clientId: 'gone' }))
        await store.saveToken(token('h2', { clientId: 'gone' }))
        await store.saveToken(token('h3', { clientId: 'kept' }))

        const event = revocation('client', 'gone')
        assert.equal(await store.deleteClient('gone', event), true)

        assert.equal(await store.getClient('gone'), null)
        assert.equal(await store.findToken('h1', NOW), null)
        assert.equal(await store.findToken('h2', NOW), null)
        assert.deepEqual(await store.findToken('h3', NOW), token('h3', { clientId: 'kept' }))
        assert.deepEqual(
          (await store.listClients()).map((c) => c.clientId),
          ['kept'],
        )
        // The event was appended in the same transaction.
        const events = await store.listRevocations(0, 10)
        assert.deepEqual(
          events.map(({ seq: _seq, ...e }) => e),
          [event],
        )
      })

      it('returns false when deleting an unknown client', async () => {
        await store.createClient(client('svc'))
        assert.equal(await store.deleteClient('nobody', revocation('client', 'nobody')), false)
        assert.notEqual(await store.getClient('svc'), null)
        assert.deepEqual(await store.listRevocations(0, 10), [], 'no event for an unknown client')
      })

      it('accepts a new client under the id of a deleted one', async () => {
        await store.createClient(client('svc', { scopes: ['old'] }))
        await store.deleteClient('svc', revocation('client', 'svc'))
        const second = client('svc', { scopes: ['new'] })
        await store.createClient(second)
        assert.deepEqual(await store.getClient('svc'), second)
      })
    })

    describe('signing keys', () => {
      it('returns an inserted key with every field as it was given', async () => {
        const inserted = key('k1', {
          alg: 'EdDSA',
          publicJwk: { kty: 'OKP', crv: 'Ed25519', x: 'abc', kid: 'k1', alg: 'EdDSA', use: 'sig' },
          createdAt: NOW,
          activatesAt: NOW + 60,
          supersededAt: NOW + 120,
          publishedUntil: NOW + 600,
          retiredAt: null,
        })
        await store.insertKey(inserted)
        assert.deepEqual(await store.getKey('k1'), inserted)
      })

      it('refuses an existing kid with ConflictError and keeps the first key', async () => {
        const first = key('k1')
        await store.insertKey(first)
        await assert.rejects(store.insertKey(key('k1', { alg: 'RS256' })), ConflictError)
        assert.deepEqual(await store.getKey('k1'), first)
      })

      it('returns null for an unknown kid', async () => {
        await store.insertKey(key('k1'))
        assert.equal(await store.getKey('nope'), null)
      })

      it('lists every key in the order added, retired ones included, whatever their dates', async () => {
        // Rotation supersedes by the order keys were added, so a clock stepped back between two
        // rotations does not reorder them.
        await store.insertKey(key('first', { createdAt: NOW + 20 }))
        await store.insertKey(key('second', { createdAt: NOW }))
        await store.insertKey(key('retired', { createdAt: NOW + 10, retiredAt: NOW + 15 }))
        const kids = (await store.listKeys()).map((k) => k.kid)
        assert.deepEqual(kids, ['first', 'second', 'retired'])
      })

      it('lists no keys when none exist', async () => {
        assert.deepEqual(await store.listKeys(), [])
      })

      it('adds the newest key and supersedes, at its activation, the older keys that would still sign then', async () => {
        const gone = key('gone', {
          createdAt: NOW - 40,
          supersededAt: NOW - 10,
          publishedUntil: NOW,
        })
        const retired = key('retired', { createdAt: NOW - 30, retiredAt: NOW - 1 })
        const active = key('active', { createdAt: NOW - 20, supersededAt: NOW + 100 })
        const pending = key('pending', { activatesAt: NOW + 100 })
        for (const k of [gone, retired, active, pending]) await store.insertKey(k)

        const newest = key('newest', { activatesAt: NOW + 60 })
        await store.insertNewestKey(newest, 400)

        const stopped = { supersededAt: NOW + 60, publishedUntil: NOW + 460 }
        assert.deepEqual(await store.getKey('active'), { ...active, ...stopped })
        assert.deepEqual(await store.getKey('pending'), { ...pending, ...stopped }, 'never signs')
        assert.deepEqual(await store.getKey('gone'), gone, 'stopped earlier: dates kept')
        assert.deepEqual(await store.getKey('retired'), retired)
        assert.deepEqual(await store.getKey('newest'), newest)
        await assert.rejects(store.insertNewestKey(key('newest'), 400), ConflictError)
        assert.equal((await store.listKeys()).length, 5)
      })

      it('after rotate then rotate --activate-in 0, exactly one key signs, the newest, at every later time', async () => {
        await store.insertNewestKey(key('first', { activatesAt: NOW - 100 }), 400)
        await store.insertNewestKey(key('pending', { activatesAt: NOW + 60 }), 400)
        await store.insertNewestKey(key('now', { activatesAt: NOW }), 400)
        const keys = await store.listKeys()
        for (const at of [NOW, NOW + 59, NOW + 60, NOW + 400, NOW + 10_000]) {
          assert.equal(pickSigningKey(keys, at, 'ES256')?.kid, 'now', `at +${at - NOW}`)
          const active = keys.filter((k) => keyState(k, keys, at) === 'active').map((k) => k.kid)
          assert.deepEqual(active, ['now'], `at +${at - NOW}`)
        }
        assert.equal((await store.getKey('first'))?.publishedUntil, NOW + 400)
      })

      it('keeps an older key signing until the newest key activates when the newest is due later', async () => {
        const active = key('active', { createdAt: NOW - 20 })
        await store.insertKey(active)
        await store.insertNewestKey(key('soon', { activatesAt: NOW + 60 }), 400)
        await store.insertNewestKey(key('later', { activatesAt: NOW + 3600 }), 400)
        assert.equal((await store.getKey('active'))?.supersededAt, NOW + 60)
        assert.deepEqual(
          { ...(await store.getKey('soon')) },
          {
            ...key('soon', { activatesAt: NOW + 60 }),
            supersededAt: NOW + 3600,
            publishedUntil: NOW + 4000,
          },
        )
        assert.equal((await store.getKey('later'))?.supersededAt, null)
      })

      it('adds a first key unless one can sign, and of concurrent first keys adds exactly one', async () => {
        const results = await Promise.all(
          ['a', 'b', 'c', 'd', 'e'].map((kid) => store.insertKeyUnlessSigning(key(kid), NOW, 400)),
        )
        assert.equal(results.filter(Boolean).length, 1)
        assert.equal((await store.listKeys()).length, 1)
        assert.equal(await store.insertKeyUnlessSigning(key('late'), NOW + 10, 400), false)
        assert.equal(await store.getKey('late'), null)
      })

      it('adds a key when every key is retired, not yet active or superseded, and supersedes the pending one', async () => {
        await store.insertKey(key('retired', { retiredAt: NOW - 1 }))
        await store.insertKey(key('pending', { activatesAt: NOW + 60 }))
        await store.insertKey(key('stopped', { supersededAt: NOW, publishedUntil: NOW + 400 }))
        assert.equal(await store.insertKeyUnlessSigning(key('fresh'), NOW, 400), true)
        assert.equal((await store.getKey('fresh'))?.supersededAt, null)
        assert.equal(
          (await store.getKey('pending'))?.supersededAt,
          NOW,
          'the pending key never signs',
        )
        assert.equal((await store.getKey('stopped'))?.publishedUntil, NOW + 400)
      })

      it('adds no key while a superseded-later key still signs', async () => {
        await store.insertKey(key('active', { supersededAt: NOW + 1, publishedUntil: NOW + 401 }))
        await store.insertKey(key('next', { activatesAt: NOW + 1 }))
        assert.equal(await store.insertKeyUnlessSigning(key('late'), NOW, 400), false)
        assert.equal(await store.insertKeyUnlessSigning(key('late'), NOW + 1, 400), false)
        assert.equal(await store.getKey('late'), null)
      })

      it('retires a key once: true, then false the second time', async () => {
        const k = key('k1', { supersededAt: NOW + 1, publishedUntil: NOW + 401 })
        await store.insertKey(k)
        await store.insertKey(key('k2', { createdAt: NOW + 1, activatesAt: NOW + 1 }))

        assert.equal(await store.retireKey('k1', NOW + 50, 400), true)
        assert.equal(await store.retireKey('k1', NOW + 60, 400), false)

        assert.deepEqual(await store.getKey('k1'), { ...k, retiredAt: NOW + 50 })
        assert.equal((await store.getKey('k2'))?.retiredAt, null)
        assert.deepEqual(
          (await store.listKeys()).map((x) => x.kid),
          ['k1', 'k2'],
        )
      })

      it('returns false when retiring an unknown kid', async () => {
        assert.equal(await store.retireKey('nope', NOW, 400), false)
      })

      it('retiring a pending key gives its predecessors back the dates the other keys give them', async () => {
        const active = key('active', { createdAt: NOW - 20 })
        await store.insertKey(active)
        await store.insertNewestKey(key('later', { activatesAt: NOW + 3600 }), 400)
        await store.insertNewestKey(key('soon', { activatesAt: NOW + 60 }), 400)
        assert.equal((await store.getKey('later'))?.supersededAt, NOW + 60, 'cancelled by soon')

        assert.equal(await store.retireKey('soon', NOW + 10, 400), true)
        const back = { supersededAt: NOW + 3600, publishedUntil: NOW + 4000 }
        assert.deepEqual(await store.getKey('active'), { ...active, ...back })
        const later = await store.getKey('later')
        assert.deepEqual([later?.supersededAt, later?.publishedUntil], [null, null])

        assert.equal(await store.retireKey('later', NOW + 20, 400), true)
        assert.deepEqual(await store.getKey('active'), active, 'signs with no end again')
      })

      it('retiring a key leaves the dates of keys that stopped signing before then', async () => {
        const first = key('first', { createdAt: NOW - 30, activatesAt: NOW - 30 })
        await store.insertKey(first)
        await store.insertNewestKey(key('second', { activatesAt: NOW - 20 }), 400)
        await store.insertNewestKey(key('third', { activatesAt: NOW - 10 }), 400)
        const before = await store.getKey('first')
        assert.equal(await store.retireKey('second', NOW, 400), true)
        assert.deepEqual(await store.getKey('first'), before)
        assert.equal((await store.getKey('third'))?.supersededAt, null)
      })

      it('a rotation supersedes only the keys of its own alg: an RS256 key leaves the ES256 key signing', async () => {
        const es = key('es', { createdAt: NOW - 20, activatesAt: NOW - 20 })
        const rs = key('rs', { alg: 'RS256', createdAt: NOW - 10, activatesAt: NOW - 10 })
        await store.insertKey(es)
        await store.insertKey(rs)
        await store.insertNewestKey(key('rs2', { alg: 'RS256', activatesAt: NOW + 60 }), 400)
        assert.deepEqual(await store.getKey('es'), es, 'another alg: untouched')
        assert.deepEqual(await store.getKey('rs'), {
          ...rs,
          supersededAt: NOW + 60,
          publishedUntil: NOW + 460,
        })
        await store.insertNewestKey(key('es2', { activatesAt: NOW + 30 }), 400)
        assert.equal((await store.getKey('es'))?.supersededAt, NOW + 30)
        assert.equal((await store.getKey('rs'))?.supersededAt, NOW + 60, 'another alg: kept')
        assert.equal((await store.getKey('rs2'))?.supersededAt, null)
        const keys = await store.listKeys()
        for (const [at, esKid, rsKid] of [
          [NOW, 'es', 'rs'],
          [NOW + 30, 'es2', 'rs'],
          [NOW + 60, 'es2', 'rs2'],
        ] as const) {
          assert.equal(pickSigningKey(keys, at, 'ES256')?.kid, esKid, `ES256 at +${at - NOW}`)
          assert.equal(pickSigningKey(keys, at, 'RS256')?.kid, rsKid, `RS256 at +${at - NOW}`)
          const active = keys.filter((k) => keyState(k, keys, at) === 'active').map((k) => k.kid)
          assert.deepEqual(
            active.sort(),
            [esKid, rsKid].sort(),
            `one active per alg at +${at - NOW}`,
          )
        }
        assert.equal(pickSigningKey(keys, NOW, 'PS256'), undefined)
      })

      it('adds a first key of an alg while a key of another alg signs, and of concurrent first keys of one alg adds exactly one', async () => {
        await store.insertKey(key('es'))
        const results = await Promise.all(
          ['a', 'b', 'c', 'd'].map((kid) =>
            store.insertKeyUnlessSigning(key(kid, { alg: 'RS256' }), NOW, 400),
          ),
        )
        assert.equal(results.filter(Boolean).length, 1)
        assert.equal(await store.insertKeyUnlessSigning(key('es-late'), NOW, 400), false)
        assert.equal(
          await store.insertKeyUnlessSigning(key('rs-late', { alg: 'RS256' }), NOW + 10, 400),
          false,
        )
        const keys = await store.listKeys()
        assert.deepEqual(
          keys.map((k) => [k.alg, k.supersededAt]),
          [
            ['ES256', null],
            ['RS256', null],
          ],
        )
      })

      it('retiring a pending key of one alg gives back dates within that alg only', async () => {
        const es = key('es', { createdAt: NOW - 20 })
        const rs = key('rs', { alg: 'RS256', createdAt: NOW - 20 })
        await store.insertKey(es)
        await store.insertKey(rs)
        await store.insertNewestKey(key('rs-soon', { alg: 'RS256', activatesAt: NOW + 60 }), 400)
        await store.insertNewestKey(key('es-soon', { activatesAt: NOW + 90 }), 400)
        assert.equal(await store.retireKey('rs-soon', NOW + 10, 400), true)
        assert.deepEqual(await store.getKey('rs'), rs, 'signs with no end again')
        assert.equal((await store.getKey('es'))?.supersededAt, NOW + 90, 'another alg: kept')
        assert.equal(await store.retireKey('es-soon', NOW + 10, 400), true)
        assert.deepEqual(await store.getKey('es'), es)
      })
    })

    describe('opaque tokens', () => {
      it('finds a saved token by hash while it is live', async () => {
        const saved = token('h1')
        const own = token('h2', { sid: null, sub: 'svc' })
        await store.saveToken(saved)
        await store.saveToken(own)
        assert.deepEqual(await store.findToken('h1', NOW), saved)
        assert.deepEqual(await store.findToken('h2', NOW + 299), own)
      })

      it('keeps the DPoP key thumbprint of a bound token, and null for a bearer token', async () => {
        const bound = token('h1', { jkt: '0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I' })
        await store.saveToken(bound)
        await store.saveToken(token('h2'))
        assert.deepEqual(await store.findToken('h1', NOW), bound)
        assert.equal((await store.findToken('h2', NOW))?.jkt, null)
      })

      it('returns null for an unknown hash', async () => {
        await store.saveToken(token('h1'))
        assert.equal(await store.findToken('h0', NOW), null)
      })

      it('returns null from the expiresAt second on, as if the token were absent', async () => {
        await store.saveToken(token('h1', { expiresAt: NOW + 10 }))
        assert.notEqual(await store.findToken('h1', NOW + 9), null)
        assert.equal(await store.findToken('h1', NOW + 10), null)
        assert.equal(await store.findToken('h1', NOW + 11), null)
      })

      it('refuses a hash that is already stored with ConflictError', async () => {
        await store.saveToken(token('h1'))
        await assert.rejects(store.saveToken(token('h1', { sub: 'other' })), ConflictError)
        assert.equal((await store.findToken('h1', NOW))?.sub, 'user-1')
      })

      it('revokes a token: deletes it, appends its event, and returns true', async () => {
        await store.saveToken(token('h1'))
        await store.saveToken(token('h2'))
        const event = revocation('token', 'h1', { createdAt: NOW + 5, expiresAt: NOW + 300 })

        assert.equal(await store.revokeToken('h1', event), true)

        assert.equal(await store.findToken('h1', NOW + 5), null)
        assert.notEqual(await store.findToken('h2', NOW + 5), null)
        const events = await store.listRevocations(0, 10)
        assert.equal(events.length, 1)
        const [first] = events
        assert.ok(first !== undefined && Number.isInteger(first.seq))
        assert.deepEqual(first, { ...event, seq: first.seq })
        assert.equal(await store.isRevoked([{ kind: 'token', value: 'h1' }], NOW, NOW + 5), true)
      })

      it('returns false and appends no event when revoking an unknown hash', async () => {
        await store.saveToken(token('h1'))
        assert.equal(await store.revokeToken('h0', revocation('token', 'h0')), false)
        assert.deepEqual(await store.listRevocations(0, 10), [])
        assert.notEqual(await store.findToken('h1', NOW), null)
      })

      it('lets exactly one of two concurrent revocations of one token win', async () => {
        await store.saveToken(token('h1'))
        const results = await Promise.all([
          store.revokeToken('h1', revocation('token', 'h1')),
          store.revokeToken('h1', revocation('token', 'h1')),
        ])
        assert.deepEqual(results.sort(), [false, true])
        assert.equal((await store.listRevocations(0, 10)).length, 1)
      })

      it('prunes tokens expired before now and returns how many', async () => {
        await store.saveToken(token('old', { expiresAt: NOW - 100 }))
        await store.saveToken(token('recent', { expiresAt: NOW - 1 }))
        await store.saveToken(token('live', { expiresAt: NOW + 100 }))

        assert.equal(await store.pruneTokens(NOW), 2)
        assert.equal(await store.pruneTokens(NOW), 0)
        assert.notEqual(await store.findToken('live', NOW), null)
      })
    })

    describe('revocations', () => {
      it('appends events with strictly increasing integer seqs', async () => {
        const seqs: number[] = []
        for (let i = 0; i < 5; i++)
          seqs.push(await store.appendRevocation(revocation('jti', `j${i}`)))
        assert.ok(seqs.every((s) => Number.isInteger(s)))
        assertIncreasing(seqs)
      })

      it('lists events after a seq, ascending, at most limit', async () => {
        const inputs = [
          revocation('jti', 'j1'),
          revocation('sub', 'user-1', { clientId: null }),
          revocation('client', 'svc', { createdAt: NOW + 1 }),
          revocation('sid', 's1', { expiresAt: NOW + 10 }),
          revocation('kid', 'k1', { clientId: null, expiresAt: NOW + 99 }),
        ]
        const seqs: number[] = []
        for (const input of inputs) seqs.push(await store.appendRevocation(input))

        const all = await store.listRevocations(0, 100)
        assert.deepEqual(
          all,
          inputs.map((input, i) => ({ ...input, seq: seqs[i] })),
        )
        const page = await store.listRevocations(seqs[1]!, 2)
        assert.deepEqual(
          page.map((e) => e.seq),
          [seqs[2], seqs[3]],
        )
        assert.deepEqual(await store.listRevocations(seqs[4]!, 100), [])
        assert.deepEqual(await store.listRevocations(0, 0), [])
      })

      it('lists expired events until they are pruned', async () => {
        const seq = await store.appendRevocation(revocation('jti', 'j1', { expiresAt: NOW - 10 }))
        assert.deepEqual(
          (await store.listRevocations(0, 10)).map((e) => e.seq),
          [seq],
        )
      })

      it('prunes events expired before now, returns how many, and keeps one expiring at now', async () => {
        await store.appendRevocation(revocation('jti', 'old', { expiresAt: NOW - 100 }))
        await store.appendRevocation(revocation('jti', 'recent', { expiresAt: NOW - 1 }))
        const atNow = await store.appendRevocation(revocation('jti', 'at-now', { expiresAt: NOW }))
        const live = await store.appendRevocation(revocation('jti', 'live', { expiresAt: NOW + 1 }))

        assert.equal(await store.pruneRevocations(NOW), 2)
        assert.equal(await store.pruneRevocations(NOW), 0)
        assert.deepEqual(
          (await store.listRevocations(0, 10)).map((e) => e.seq),
          [atNow, live],
        )
        assert.equal(await store.isRevoked([{ kind: 'jti', value: 'at-now' }], NOW, NOW), true)
      })

      it('never reuses a seq, even after every event has been pruned', async () => {
        const before: number[] = []
        for (let i = 0; i < 3; i++) {
          before.push(await store.appendRevocation(revocation('jti', `j${i}`, { expiresAt: NOW })))
        }
        assert.equal(await store.pruneRevocations(NOW + 1), 3)
        assert.deepEqual(await store.listRevocations(0, 10), [])

        const next = await store.appendRevocation(revocation('jti', 'j3'))
        assert.ok(next > Math.max(...before), `seq ${next} is above every earlier seq`)
        assert.deepEqual(
          (await store.listRevocations(Math.max(...before), 10)).map((e) => e.seq),
          [next],
        )
      })

      it('hands out distinct increasing seqs to 50 concurrent appends', async () => {
        const seqs = await Promise.all(
          Array.from({ length: 50 }, (_, i) => store.appendRevocation(revocation('jti', `j${i}`))),
        )
        assert.equal(new Set(seqs).size, 50)
        const listed = (await store.listRevocations(0, 100)).map((e) => e.seq)
        assert.equal(listed.length, 50)
        assertIncreasing(listed)
        assert.deepEqual(
          [...listed].sort((a, b) => a - b),
          [...seqs].sort((a, b) => a - b),
        )
      })

      it('matches a live event of each kind by its kind and value', async () => {
        for (const kind of KINDS) await store.appendRevocation(revocation(kind, `v-${kind}`))
        for (const kind of KINDS) {
          const refs = [{ kind, value: `v-${kind}` }]
          assert.equal(await store.isRevoked(refs, NOW - 60, NOW), true, kind)
        }
      })

      it('does not match an event of another kind or another value', async () => {
        await store.appendRevocation(revocation('jti', 'shared'))
        assert.equal(await store.isRevoked([{ kind: 'sid', value: 'shared' }], NOW - 1, NOW), false)
        assert.equal(await store.isRevoked([{ kind: 'jti', value: 'other' }], NOW - 1, NOW), false)
        assert.equal(await store.isRevoked([{ kind: 'jti', value: 'SHARED' }], NOW - 1, NOW), false)
      })

      it('matches when any one of up to six refs has a live event', async () => {
        await store.appendRevocation(revocation('kid', 'k1'))
        const refs = [
          { kind: 'jti', value: 'j1' },
          { kind: 'token', value: 'h1' },
          { kind: 'sid', value: 's1' },
          { kind: 'sub', value: 'user-1' },
          { kind: 'client', value: 'svc' },
          { kind: 'kid', value: 'k1' },
        ] as const
        assert.equal(await store.isRevoked([...refs], NOW - 1, NOW), true)
        assert.equal(await store.isRevoked(refs.slice(0, 5), NOW - 1, NOW), false)
        for (let n = 1; n <= 5; n++) {
          assert.equal(await store.isRevoked(refs.slice(5 - n), NOW - 1, NOW), true, `${n} refs`)
        }
      })

      it('matches nothing for an empty list of refs', async () => {
        await store.appendRevocation(revocation('jti', 'j1'))
        assert.equal(await store.isRevoked([], NOW - 1, NOW), false)
      })

      it('covers what was issued after a jti, token, sid or kid event', async () => {
        for (const kind of ['jti', 'token', 'sid', 'kid'] as const) {
          await store.appendRevocation(revocation(kind, 'v', { createdAt: NOW }))
          const refs = [{ kind, value: 'v' }]
          assert.equal(await store.isRevoked(refs, NOW + 100, NOW + 100), true, kind)
        }
      })

      it('covers sub and client tokens issued at or before the event, not after', async () => {
        for (const kind of ['sub', 'client'] as const) {
          await store.appendRevocation(revocation(kind, 'v', { createdAt: NOW }))
          const refs = [{ kind, value: 'v' }]
          assert.equal(await store.isRevoked(refs, NOW - 1, NOW + 5), true, `${kind} before`)
          assert.equal(await store.isRevoked(refs, NOW, NOW + 5), true, `${kind} at`)
          assert.equal(await store.isRevoked(refs, NOW + 1, NOW + 5), false, `${kind} after`)
        }
      })

      it('matches a later sub event even when an earlier one for the same sub does not', async () => {
        await store.appendRevocation(revocation('sub', 'user-1', { createdAt: NOW }))
        await store.appendRevocation(revocation('sub', 'user-1', { createdAt: NOW + 100 }))
        const refs = [{ kind: 'sub', value: 'user-1' }] as const
        assert.equal(await store.isRevoked([...refs], NOW + 50, NOW + 100), true)
        assert.equal(await store.isRevoked([...refs], NOW + 101, NOW + 101), false)
      })

      it('ignores an expired event but still matches through its expiresAt second', async () => {
        await store.appendRevocation(revocation('jti', 'j1', { expiresAt: NOW + 10 }))
        const refs = [{ kind: 'jti', value: 'j1' }] as const
        assert.equal(await store.isRevoked([...refs], NOW, NOW + 10), true)
        assert.equal(await store.isRevoked([...refs], NOW, NOW + 11), false)
      })
    })

    describeUserConformance(() => store)
    describeSessionConformance(() => store)
    describeRefreshConformance(() => store)
    describeRevokeConformance(() => store)
    describeConsentConformance(() => store)
    describeAuditConformance(() => store)
    describeFeedConformance(() => store)
    describeSingleUseConformance(() => store)

    describe('lifecycle', () => {
      it('names its engine', () => {
        assert.equal(typeof store.engine, 'string')
        assert.ok(store.engine.length > 0)
      })

      it('answers ping while open', async () => {
        await store.ping()
      })

      it('closes idempotently, then rejects ping with StoreUnavailableError', async () => {
        await store.close()
        await store.close()
        await assert.rejects(store.ping(), StoreUnavailableError)
        await assert.rejects(store.getClient('svc'), StoreUnavailableError)
        await assert.rejects(store.getUser('u1'), StoreUnavailableError)
        await assert.rejects(store.redeemCode('c1', NOW), StoreUnavailableError)
      })
    })
  })
}
