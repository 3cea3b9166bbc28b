import assert from 'node:assert/strict'
import { Socket } from 'node:net'
import { describe, it } from 'node:test'
import type { FastifyRequest } from 'fastify'
import { client as storedClient } from '../../test/store/fixtures.js'
import { OAuthError } from '../errors.js'
import type { ClientRecord } from '../store/types.js'
import { hashSecret, SecretVerifier } from '../tokens/secrets.js'
import { authenticateClient } from './client_auth/index.js'
import type { ServerContext } from './context.js'
import type { FormParams } from './form.js'
import { FailureLimiter } from './rate_limit.js'

/** A cheap scrypt cost: these tests are about when a secret is checked, not how. */
const TEST_COST = { logN: 10, r: 8, p: 1 }

/** Counts secret checks (each asks first whether it needs a hash), hashes or not. */
class CountingVerifier extends SecretVerifier {
  calls = 0
  override withoutHash(
    clientId: string,
    secret: string,
    encoded: string | null,
  ): Promise<boolean> | undefined {
    this.calls++
    return super.withoutHash(clientId, secret, encoded)
  }
}

function basic(clientId: string, secret: string): string {
  return 'Basic ' + Buffer.from(`${clientId}:${secret}`).toString('base64')
}

async function clientRecord(clientId: string, secret: string | null): Promise<ClientRecord> {
  return storedClient(clientId, {
    secretHash: secret === null ? null : await hashSecret(secret, TEST_COST),
    scopes: [],
    // As `client create` registers it without --auth-method: a secret may come either way.
    authMethod: secret === null ? 'none' : null,
    createdAt: 0,
  })
}

/**
 * Just what `authenticateClient` reads. `clients` stands for the client cache: a record replaced or
 * removed here is what the cache returns once its entry has expired.
 */
function setup(perAddress = 20) {
  const clients = new Map<string, ClientRecord>()
  const hashed = { count: 0 }
  const secrets = new CountingVerifier(() => hashed.count++)
  const ctx = {
    config: { rateLimit: { perAddress, perClient: 10, windowSeconds: 60 } },
    clock: () => 1_000_000,
    clients: { get: (id: string) => Promise.resolve(clients.get(id) ?? null) },
    secrets,
    clientAuthFailures: new FailureLimiter(60),
    audit: { record: () => {} },
  } as unknown as ServerContext
  const authenticate = (
    socket: Socket,
    authorization: string | undefined,
    params: FormParams = {},
  ): ReturnType<typeof authenticateClient> => {
    const request = {
      headers: authorization === undefined ? {} : { authorization },
      raw: { socket },
      ip: '127.0.0.1',
    } as unknown as FastifyRequest
    return authenticateClient(request, params, ctx)
  }
  return { clients, secrets, hashed, authenticate }
}

function isError(code: string, status: number): (err: unknown) => boolean {
  return (err) => err instanceof OAuthError && err.code === code && err.status === status
}

describe('authenticateClient on a keep-alive connection', () => {
  it('checks a Basic header once per connection and accepts it again unparsed', async () => {
    const { clients, secrets, authenticate } = setup()
    clients.set('svc', await clientRecord('svc', 'right-secret-of-svc'))
    const socket = new Socket()
    const header = basic('svc', 'right-secret-of-svc')
    for (let i = 0; i < 3; i++) {
      const { client, method } = await authenticate(socket, header)
      assert.equal(client.clientId, 'svc')
      assert.equal(method, 'client_secret_basic')
    }
    assert.equal(secrets.calls, 1, 'the secret was checked on the first request only')

    await authenticate(new Socket(), header)
    assert.equal(secrets.calls, 2, 'another connection checks it again')
  })

  it('checks a different header on the same connection, and refuses a wrong secret', async () => {
    const { clients, secrets, authenticate } = setup()
    clients.set('svc', await clientRecord('svc', 'right-secret-of-svc'))
    clients.set('other', await clientRecord('other', 'right-secret-of-other'))
    const socket = new Socket()
    await authenticate(socket, basic('svc', 'right-secret-of-svc'))
    await assert.rejects(
      authenticate(socket, basic('svc', 'wrong-secret-of-svc')),
      isError('invalid_client', 401),
    )
    await assert.rejects(
      authenticate(socket, basic('other', 'right-secret-of-svc')),
      isError('invalid_client', 401),
    )
    const { client } = await authenticate(socket, basic('other', 'right-secret-of-other'))
    assert.equal(client.clientId, 'other')
    assert.equal(secrets.calls, 4)
  })

  it('does not take the remembered header for one that adds client_id or client_secret', async () => {
    const { clients, secrets, authenticate } = setup()
    clients.set('svc', await clientRecord('svc', 'right-secret-of-svc'))
    const socket = new Socket()
    const header = basic('svc', 'right-secret-of-svc')
    await authenticate(socket, header)
    await assert.rejects(
      authenticate(socket, header, { client_secret: 'right-secret-of-svc' }),
      isError('invalid_request', 400),
    )
    await assert.rejects(
      authenticate(socket, header, { client_id: 'someone-else' }),
      isError('invalid_request', 400),
    )
    await authenticate(socket, header, { client_id: 'svc' })
    assert.equal(secrets.calls, 2, 'the matching client_id went the slow path')
  })

  it('ends the memory when the client is deleted or its secret changes', async () => {
    const { clients, authenticate } = setup()
    clients.set('svc', await clientRecord('svc', 'right-secret-of-svc'))
    const socket = new Socket()
    const header = basic('svc', 'right-secret-of-svc')
    await authenticate(socket, header)

    clients.set('svc', await clientRecord('svc', 'a-new-secret-for-svc'))
    await assert.rejects(authenticate(socket, header), isError('invalid_client', 401))
    const { client } = await authenticate(socket, basic('svc', 'a-new-secret-for-svc'))
    assert.equal(client.clientId, 'svc')

    clients.delete('svc')
    await assert.rejects(
      authenticate(socket, basic('svc', 'a-new-secret-for-svc')),
      isError('invalid_client', 401),
    )
  })

  it('never remembers client_secret_post or a public client', async () => {
    const { clients, secrets, authenticate } = setup()
    clients.set('svc', await clientRecord('svc', 'right-secret-of-svc'))
    clients.set('app', await clientRecord('app', null))
    const socket = new Socket()
    const post = { client_id: 'svc', client_secret: 'right-secret-of-svc' }
    for (let i = 0; i < 2; i++) {
      assert.equal((await authenticate(socket, undefined, post)).method, 'client_secret_post')
    }
    assert.equal(secrets.calls, 2, 'each client_secret_post request is checked')
    await assert.rejects(
      authenticate(socket, undefined, { client_id: 'svc', client_secret: 'wrong' }),
      isError('invalid_client', 401),
    )
    assert.equal((await authenticate(socket, undefined, { client_id: 'app' })).method, 'none')
    await assert.rejects(
      authenticate(socket, undefined, { client_id: 'svc' }),
      isError('invalid_client', 401),
    )
  })

  it('still refuses a remembered connection while its address is throttled', async () => {
    const { clients, authenticate } = setup(2)
    clients.set('svc', await clientRecord('svc', 'right-secret-of-svc'))
    const socket = new Socket()
    const header = basic('svc', 'right-secret-of-svc')
    await authenticate(socket, header)
    for (let i = 0; i < 2; i++) {
      await assert.rejects(
        authenticate(new Socket(), basic(`guess-${i}`, 'wrong-secret')),
        isError('invalid_client', 401),
      )
    }
    await assert.rejects(authenticate(socket, header), isError('temporarily_unavailable', 429))
  })
})

describe('authenticateClient under a burst of wrong secrets', () => {
  it('counts each attempt before hashing, so parallel attempts hash at most the per-address limit', async () => {
    const { clients, hashed, authenticate } = setup(5)
    clients.set('svc', await clientRecord('svc', 'right-secret-of-svc'))
    const attempts = Array.from({ length: 40 }, (_, i) =>
      authenticate(new Socket(), basic(i % 2 ? 'svc' : `ghost-${i}`, `wrong-secret-${i}`)).then(
        () => 200,
        (err: unknown) => (err instanceof OAuthError ? err.status : 500),
      ),
    )
    const statuses = await Promise.all(attempts)
    assert.equal(statuses.filter((s) => s === 401).length, 5)
    assert.equal(statuses.filter((s) => s === 429).length, 35)
    assert.equal(hashed.count, 5, 'one hash per counted failure, none for the throttled')
  })

  it('forgives the counted attempt when the secret is right', async () => {
    const { clients, authenticate } = setup(3)
    clients.set('svc', await clientRecord('svc', 'right-secret-of-svc'))
    const right = Array.from({ length: 10 }, () =>
      authenticate(new Socket(), basic('svc', 'right-secret-of-svc')),
    )
    for (const r of await Promise.all(right)) assert.equal(r.client.clientId, 'svc')
    for (let i = 0; i < 3; i++) {
      await assert.rejects(
        authenticate(new Socket(), basic('svc', `wrong-${i}`)),
        isError('invalid_client', 401),
      )
    }
    await assert.rejects(
      authenticate(new Socket(), basic('svc', 'right-secret-of-svc')),
      isError('temporarily_unavailable', 429),
    )
  })
})

describe('authenticateClient: a client uses only the method it registered', () => {
  it('refuses the other secret method as it refuses a wrong secret: same error, same hash', async () => {
    const { clients, hashed, authenticate } = setup()
    clients.set('post-only', {
      ...(await clientRecord('post-only', 'right-secret-of-post')),
      authMethod: 'client_secret_post',
    })
    clients.set('basic-only', {
      ...(await clientRecord('basic-only', 'right-secret-of-basic')),
      authMethod: 'client_secret_basic',
    })
    // The registered method works.
    const post = await authenticate(new Socket(), undefined, {
      client_id: 'post-only',
      client_secret: 'right-secret-of-post',
    })
    assert.equal(post.method, 'client_secret_post')
    const viaBasic = await authenticate(new Socket(), basic('basic-only', 'right-secret-of-basic'))
    assert.equal(viaBasic.method, 'client_secret_basic')

    // The right secret through the other method: refused, and it cost a hash like an unknown client.
    const before = hashed.count
    await assert.rejects(
      authenticate(new Socket(), basic('post-only', 'right-secret-of-post')),
      isError('invalid_client', 401),
    )
    await assert.rejects(
      authenticate(new Socket(), undefined, {
        client_id: 'basic-only',
        client_secret: 'right-secret-of-basic',
      }),
      isError('invalid_client', 401),
    )
    await assert.rejects(
      authenticate(new Socket(), basic('nobody', 'right-secret-of-post')),
      isError('invalid_client', 401),
    )
    assert.equal(hashed.count - before, 3, 'each refusal hashed once, known client or not')
  })

  it('does not let a confidential client drop its secret, nor a public client present one', async () => {
    const { clients, authenticate } = setup()
    clients.set('svc', await clientRecord('svc', 'right-secret-of-svc'))
    clients.set('app', await clientRecord('app', null))
    await assert.rejects(
      authenticate(new Socket(), undefined, { client_id: 'svc' }),
      isError('invalid_client', 401),
    )
    await assert.rejects(
      authenticate(new Socket(), basic('app', 'any-secret-at-all-here')),
      isError('invalid_client', 401),
    )
    const { method } = await authenticate(new Socket(), undefined, { client_id: 'app' })
    assert.equal(method, 'none')
  })

  it('refuses two methods in one request (RFC 6749 §2.3)', async () => {
    const { clients, authenticate } = setup()
    clients.set('svc', await clientRecord('svc', 'right-secret-of-svc'))
    await assert.rejects(
      authenticate(new Socket(), basic('svc', 'right-secret-of-svc'), {
        client_secret: 'right-secret-of-svc',
      }),
      isError('invalid_request', 400),
    )
  })
})
