/**
 * The CORS origin set: which clients open which origins, one store read for any number of concurrent
 * requests, a second's staleness at most, and the last good set kept while the store fails.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { client } from '../../test/store/fixtures.js'
import type { ClientRecord } from '../store/types.js'
import { clientOrigins, CorsOrigins } from './cors.js'

describe('clientOrigins', () => {
  it('opens a public client’s redirect origins and any client’s allowed origins, nothing else', () => {
    const spa = client('spa', {
      authMethod: 'none',
      secretHash: null,
      redirectUris: ['https://spa.example/cb', 'http://127.0.0.1:8080/cb', 'com.example.app:/cb'],
    })
    assert.deepEqual(clientOrigins(spa), ['https://spa.example', 'http://127.0.0.1:8080'])
    const web = client('web', { redirectUris: ['https://web.example/cb'] })
    assert.deepEqual(clientOrigins(web), [])
    const dash = client('dash', {
      redirectUris: ['https://web.example/cb'],
      allowedOrigins: ['https://dash.example'],
    })
    assert.deepEqual(clientOrigins(dash), ['https://dash.example'])
  })
})

describe('CorsOrigins', () => {
  function listing(clients: ClientRecord[]) {
    let reads = 0
    let fail = false
    const store = {
      listClients: async () => {
        reads++
        await Promise.resolve()
        if (fail) throw new Error('store down')
        return clients
      },
    }
    return {
      store,
      reads: () => reads,
      failing: (f: boolean) => (fail = f),
    }
  }

  it('reads the clients once for many concurrent questions, then not again while fresh', async () => {
    const clients = [client('d', { allowedOrigins: ['https://dash.example'] })]
    const s = listing(clients)
    const cors = new CorsOrigins(s.store, 60_000)
    const answers = await Promise.all(
      Array.from({ length: 100 }, (_, i) =>
        cors.allows(i % 2 === 0 ? 'https://dash.example' : 'https://evil.example'),
      ),
    )
    assert.deepEqual(
      answers,
      answers.map((_, i) => i % 2 === 0),
    )
    assert.equal(await cors.allows('https://dash.example'), true)
    assert.equal(s.reads(), 1)
  })

  it('sees a new client and a deleted one once the set is stale', async () => {
    const clients: ClientRecord[] = []
    const s = listing(clients)
    const cors = new CorsOrigins(s.store, 50)
    assert.equal(await cors.allows('https://late.example'), false)
    clients.push(client('late', { allowedOrigins: ['https://late.example'] }))
    assert.equal(await cors.allows('https://late.example'), false, 'fresh: not read again')
    await new Promise((r) => setTimeout(r, 60))
    assert.equal(await cors.allows('https://late.example'), true)
    clients.pop()
    await new Promise((r) => setTimeout(r, 60))
    assert.equal(await cors.allows('https://late.example'), false)
  })

  it('spaces the reads out when listing the clients is slow', async () => {
    let reads = 0
    const slow = {
      listClients: async () => {
        reads++
        await new Promise((r) => setTimeout(r, 30))
        return [client('d', { allowedOrigins: ['https://dash.example'] })]
      },
    }
    const cors = new CorsOrigins(slow, 10)
    assert.equal(await cors.allows('https://dash.example'), true)
    // Stale after 10 ms by the setting, but a 30 ms listing waits at least 20 times as long.
    await new Promise((r) => setTimeout(r, 100))
    assert.equal(await cors.allows('https://dash.example'), true)
    assert.equal(reads, 1)
  })

  it('keeps the last set while the store fails', async () => {
    const s = listing([client('d', { allowedOrigins: ['https://dash.example'] })])
    const cors = new CorsOrigins(s.store, 20)
    assert.equal(await cors.allows('https://dash.example'), true)
    s.failing(true)
    await new Promise((r) => setTimeout(r, 30))
    assert.equal(await cors.allows('https://dash.example'), true)
    assert.equal(await cors.allows('https://evil.example'), false)
    assert.equal(s.reads(), 2)
  })
})
