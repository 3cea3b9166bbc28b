/**
 * `/metrics` on the main listener by default, or on a listener of its own with `--metrics-port`
 * (`LATCHKEY_METRICS_PORT`): then the main listener answers 404 there, the metrics listener reports
 * what the main one served, and SIGTERM closes both.
 */
import assert from 'node:assert/strict'
import { connect } from 'node:net'
import { describe, it } from 'node:test'
import { createClient, freePort, request, startServer } from '../helpers/server.js'

/** Whether something accepts TCP connections at 127.0.0.1:port. */
function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1')
    socket.once('connect', () => {
      socket.destroy()
      resolve(true)
    })
    socket.once('error', () => resolve(false))
  })
}

describe('the metrics listener', () => {
  it('serves /metrics on the main listener when no metrics port is set', async () => {
    const server = await startServer()
    try {
      const res = await server.get('/metrics')
      assert.equal(res.status, 200)
      assert.match(res.text, /latchkey_http_requests_total/)
    } finally {
      await server.dispose()
    }
  })

  for (const via of ['flag', 'environment'] as const) {
    it(`moves /metrics to its own port (${via}), counts the main listener's requests there, and closes both on SIGTERM`, async () => {
      const metricsPort = await freePort()
      const server = await startServer(
        via === 'flag'
          ? { args: ['--metrics-port', String(metricsPort)] }
          : { env: { LATCHKEY_METRICS_PORT: String(metricsPort) } },
      )
      let stopped = false
      try {
        const main = await server.get('/metrics')
        assert.equal(main.status, 404)
        assert.equal(main.json.error, 'invalid_request')

        const service = createClient(server.db, 'service', '--grant', 'client_credentials')
        const issued = await server.post('/token', { grant_type: 'client_credentials' }, [
          service.client_id,
          service.client_secret,
        ])
        assert.equal(issued.status, 200)

        const metricsUrl = `http://127.0.0.1:${metricsPort}`
        const scraped = await request(`${metricsUrl}/metrics`)
        assert.equal(scraped.status, 200)
        assert.match(
          scraped.text,
          /latchkey_http_requests_total\{method="POST",route="\/token",status="200"\} 1\n/,
        )
        assert.match(
          scraped.text,
          /latchkey_http_requests_total\{method="GET",route="unmatched",status="404"\} 1\n/,
        )
        assert.match(scraped.text, /latchkey_tokens_issued_total\{[^}]*\} 1\n/)
        // Only /metrics there: the OAuth endpoints are not on the metrics listener.
        assert.equal((await request(`${metricsUrl}/token`, { method: 'POST' })).status, 404)
        assert.equal((await request(`${metricsUrl}/healthz`)).status, 404)

        assert.equal(await server.stop(), 0)
        stopped = true
        assert.equal(await listening(server.port), false, 'the main listener is closed')
        assert.equal(await listening(metricsPort), false, 'the metrics listener is closed')
      } finally {
        if (!stopped) await server.stop()
        await server.dispose()
      }
    })
  }
})
