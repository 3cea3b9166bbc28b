import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { client as storedClient } from '../../test/store/fixtures.js'
import { keyJSON } from '../admin/keys.js'
import { ConfigError } from '../errors.js'
import { createSqliteStore } from '../store/sqlite/index.js'
import type { ClientRecord, SigningKeyRecord, Store } from '../store/types.js'
import { issueAccessToken, resolveAccessToken, type TokenContext } from './access_token.js'
import { decodeJWT } from './jwt.js'
import {
  ensureSigningKey,
  ensureSigningKeys,
  PUBLICATION_GRACE,
  retireSigningKey,
  rotateSigningKey,
} from './key_management.js'
import { KeyRing } from './key_ring.js'
import { pickSigningKey } from './keys.js'

const START = 1_800_000_000
const RUNS = Number(process.env.LATCHKEY_FUZZ_RUNS ?? 50)

/**
 * The lineages of a history: the access tokens' and a second one, as the ID tokens' would be, each
 * rotated on its own (EdDSA: its keys are made in microseconds, RSA keys take a hundred times longer).
 */
const ALGS = ['ES256', 'EdDSA'] as const
type Alg = (typeof ALGS)[number]

type Step =
  | { op: 'rotate'; activateIn: number; alg: Alg }
  | { op: 'retire'; pick: number }
  | { op: 'advance'; seconds: number }
  | { op: 'issue'; client: number; stale: boolean }

const step: fc.Arbitrary<Step> = fc.oneof(
  {
    arbitrary: fc.record({
      op: fc.constant('rotate' as const),
      activateIn: fc.oneof(
        fc.constantFrom(0, 1, 59, 60, 61, 300, 3600),
        fc.integer({ min: 0, max: 4000 }),
      ),
      // Mostly the access-token lineage, whose tokens the history issues and checks.
      alg: fc.constantFrom<Alg>('ES256', 'ES256', 'EdDSA'),
    }),
    weight: 3,
  },
  { arbitrary: fc.record({ op: fc.constant('retire' as const), pick: fc.nat(20) }), weight: 1 },
  {
    arbitrary: fc.record({
      op: fc.constant('advance' as const),
      // Forward by any amount; back by up to a minute (a stepped clock, a node behind another): the
      // guarantee holds for steps back within PUBLICATION_GRACE's minute. Never back before the first
      // key, nor before a retirement: the key retired then may be the one that signed at the earlier
      // time, and no key signs until the clock is back.
      seconds: fc.oneof(
        fc.constantFrom(0, 1, 59, 60, 61, 299, 300, 301, 900, 1020, 1021),
        fc.integer({ min: 0, max: 5000 }),
        fc.integer({ min: -60, max: -1 }),
      ),
    }),
    weight: 3,
  },
  {
    arbitrary: fc.record({
      op: fc.constant('issue' as const),
      client: fc.nat(1),
      stale: fc.boolean(),
    }),
    weight: 3,
  },
)

function client(clientId: string, accessTokenTtl: number): ClientRecord {
  return storedClient(clientId, {
    secretHash: null,
    scopes: [],
    authMethod: 'none',
    accessTokenTtl,
    createdAt: START,
  })
}

interface Issued {
  token: string
  kid: string
  iat: number
  exp: number
}

/**
 * One random history against the real store, key management and key rings. `fresh` reloads after
 * every write, as the node that made it; `stale` reloads only once its copy is 60 s old, as a node at
 * the largest `keyReloadMs`.
 */
async function runHistory(steps: readonly Step[]): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'latchkey-keys-'))
  const store: Store = createSqliteStore(join(dir, 'keys.db'))
  try {
    let now = START
    let floor = START
    const clock = (): number => now
    const clients = [client('short', 300), client('long', 900)]
    for (const c of clients) await store.createClient(c)
    // ID tokens live 600 s here, less than the long client's access tokens: 900 s stays the longest.
    const idTokenSeconds = 600
    for (const alg of ALGS) await ensureSigningKey(store, { alg, now, idTokenSeconds })
    const fresh = await KeyRing.load(store, { clock })
    const stale = await KeyRing.load(store, { clock })
    let staleLoadedAt = now
    const context = (keys: KeyRing): TokenContext => ({
      store,
      keys,
      issuer: 'https://issuer.test',
      defaultAudience: 'https://issuer.test',
      clock,
      leeway: 0,
    })
    const issued: Issued[] = []

    const check = async (where: string): Promise<void> => {
      const keys = await store.listKeys()
      const signer = pickSigningKey(keys, now, 'ES256')
      assert.equal(fresh.signer()?.kid, signer?.kid, `${where}: the ring signs with it`)
      const listed = keys.map((k) => keyJSON(k, keys, now))
      for (const alg of ALGS) {
        const signs = pickSigningKey(keys, now, alg)
        assert.equal(
          fresh.signerFor(alg)?.kid,
          signs?.kid,
          `${where}: the ring signs ${alg} with it`,
        )
        assert.deepEqual(
          listed.filter((k) => k.state === 'active' && k.alg === alg).map((k) => k.kid),
          [signs?.kid],
          `${where}: keys list shows exactly the ${alg} signing key as active`,
        )
      }
      // Each live token, at now and at its last second: the keys as they are must carry it to `exp`.
      for (const t of issued) {
        if (t.exp <= now) continue
        if (keys.find((k) => k.kid === t.kid)?.retiredAt !== null) continue
        for (const at of [now, t.exp - 1]) {
          const jwks = fresh.jwks(at).keys.map((k) => k.kid)
          assert.ok(jwks.includes(t.kid), `${where}: the JWKS holds ${t.kid} at ${at}`)
          // A clock stepped back below `iat` refuses the token by the leeway rule, not for its key.
          if (at < t.iat) continue
          const ctx = { ...context(fresh), clock: () => at }
          assert.notEqual(
            await resolveAccessToken(ctx, t.token),
            null,
            `${where}: a token of ${t.kid} verifies at ${at}, before its exp ${t.exp}`,
          )
        }
      }
      for (const alg of ALGS) {
        const lineage = keys.filter((k) => k.alg === alg)
        const signing = lineage.filter(
          (k) =>
            k.retiredAt === null &&
            k.activatesAt <= now &&
            (k.supersededAt === null || k.supersededAt > now),
        )
        assert.equal(signing.length, 1, `${where}: exactly one ${alg} key signs`)
        assertRule(lineage, now, `${where} (${alg})`)
      }
    }

    await check('start')
    for (const [i, s] of steps.entries()) {
      const where = `step ${i} (${JSON.stringify(s)}) at +${now - START}`
      switch (s.op) {
        case 'rotate':
          await rotateSigningKey(store, {
            alg: s.alg,
            now,
            activateIn: s.activateIn,
            idTokenSeconds,
          })
          await fresh.reload()
          break
        case 'retire': {
          const keys = await store.listKeys()
          const target = keys[s.pick % keys.length] as SigningKeyRecord
          const refused =
            target.retiredAt !== null || pickSigningKey(keys, now, target.alg) === target
          if (refused) {
            await assert.rejects(
              retireSigningKey(store, target.kid, now, idTokenSeconds),
              ConfigError,
              where,
            )
          } else {
            await retireSigningKey(store, target.kid, now, idTokenSeconds)
            floor = now
          }
          await fresh.reload()
          break
        }
        case 'advance':
          now = Math.max(floor, now + s.seconds)
          break
        case 'issue': {
          if (now - staleLoadedAt >= 60) {
            await stale.reload()
            staleLoadedAt = now
          }
          const ring = s.stale ? stale : fresh
          const c = clients[s.client] as ClientRecord
          const { token, claims } = await issueAccessToken(context(ring), {
            client: c,
            sub: 'u',
            scope: [],
          })
          const { kid } = decodeJWT(token).header
          issued.push({ token, kid, iat: claims.iat, exp: claims.exp })
          break
        }
      }
      await check(where)
    }
  } finally {
    await store.close()
    rmSync(dir, { recursive: true, force: true })
  }
}

/**
 * The stored dates of one lineage (the keys of one alg) follow the rule: a key not yet superseded at
 * `now` stops signing at the earliest activation of the unretired keys of its alg added after it, and is published for the longest token lifetime
 * plus the grace after that.
 */
function assertRule(keys: readonly SigningKeyRecord[], now: number, where: string): void {
  for (const [i, key] of keys.entries()) {
    if (key.retiredAt !== null) continue
    if (key.supersededAt !== null && key.supersededAt <= now) continue
    const later = keys.slice(i + 1).filter((k) => k.retiredAt === null)
    const next = later.length === 0 ? null : Math.min(...later.map((k) => k.activatesAt))
    assert.equal(
      key.supersededAt,
      next,
      `${where}: ${key.kid} stops signing when the next key starts`,
    )
    assert.equal(
      key.publishedUntil,
      next === null ? null : next + 900 + PUBLICATION_GRACE,
      `${where}: ${key.kid} published for the longest lifetime after it stops`,
    )
  }
}

describe('key rotation (property)', () => {
  it('always has one signing key per alg, listed alone as active, and keeps every live token verifying', async () => {
    await fc.assert(fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 30 }), runHistory), {
      seed: 0x6b657973,
      numRuns: RUNS,
    })
  })

  it('survives the reported sequence: rotate, then rotate --activate-in 0', async () => {
    await runHistory([
      { op: 'issue', client: 1, stale: false },
      { op: 'rotate', activateIn: 60, alg: 'ES256' },
      { op: 'issue', client: 1, stale: false },
      { op: 'rotate', activateIn: 0, alg: 'ES256' },
      { op: 'issue', client: 1, stale: true },
      { op: 'advance', seconds: 60 },
      { op: 'issue', client: 1, stale: false },
      { op: 'advance', seconds: 61 },
      { op: 'issue', client: 1, stale: true },
      { op: 'advance', seconds: 899 },
      { op: 'advance', seconds: 200 },
    ])
  })
})

describe('key lineages per alg', () => {
  it('makes an access-token key and an RS256 ID-token key once, signs each alg with its own, and keeps a rotated one published for the ID-token lifetime', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'latchkey-lineages-'))
    const store: Store = createSqliteStore(join(dir, 'keys.db'))
    try {
      const now = START
      const made = await ensureSigningKeys(store, { alg: 'ES256', now })
      assert.deepEqual(
        made.map((k) => k.alg),
        ['ES256', 'RS256'],
      )
      assert.deepEqual(await ensureSigningKeys(store, { alg: 'ES256', now: now + 1 }), [])
      const ring = await KeyRing.load(store, { clock: () => now, accessTokenAlg: 'ES256' })
      assert.equal(ring.signer()?.alg, 'ES256')
      assert.equal(ring.signerFor('RS256')?.kid, made[1]?.kid)
      assert.equal(ring.signerFor('PS256'), undefined)
      assert.deepEqual(ring.signingAlgs(), ['ES256', 'RS256'])

      // No client lives longer than 300 s: the ID-token lifetime (default 3600 s) is the longest.
      const next = await rotateSigningKey(store, { alg: 'RS256', now, activateIn: 0 })
      const old = await store.getKey(made[1]!.kid)
      assert.equal(old?.supersededAt, now)
      assert.equal(old?.publishedUntil, now + 3600 + PUBLICATION_GRACE)
      assert.deepEqual(await store.getKey(made[0]!.kid), made[0], 'the ES256 lineage is untouched')
      await ring.reload()
      assert.equal(ring.signerFor('RS256')?.kid, next.kid)
      assert.equal(ring.signer()?.kid, made[0]?.kid)
      await assert.rejects(retireSigningKey(store, next.kid, now), ConfigError, 'signs RS256 now')
      await assert.rejects(retireSigningKey(store, made[0]!.kid, now), ConfigError)
    } finally {
      await store.close()
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it('adds no key when a node that started later added one while this one generated its own', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'latchkey-lineages-'))
    const early = createSqliteStore(join(dir, 'keys.db'))
    const late = createSqliteStore(join(dir, 'keys.db'))
    try {
      // The early node read the clock 3 s before the late one, then took that long to make its key.
      const now = Math.floor(Date.now() / 1000)
      const made = await ensureSigningKey(late, { alg: 'ES256', now: now - 2 })
      assert.ok(made)
      assert.equal(await ensureSigningKey(early, { alg: 'ES256', now: now - 5 }), null)
      assert.deepEqual(
        (await early.listKeys()).map((k) => k.kid),
        [made.kid],
      )
    } finally {
      await early.close()
      await late.close()
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it('makes one key when the access-token alg is RS256', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'latchkey-lineages-'))
    const store: Store = createSqliteStore(join(dir, 'keys.db'))
    try {
      const made = await ensureSigningKeys(store, { alg: 'RS256', now: START })
      assert.deepEqual(
        made.map((k) => k.alg),
        ['RS256'],
      )
    } finally {
      await store.close()
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
