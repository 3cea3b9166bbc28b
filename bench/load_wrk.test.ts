import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { summarizeWrk } from './load_wrk.js'
import type { WrkSummary } from './wrk.js'

const node = (requests: number, status: number, p99: number): WrkSummary => ({
  requests,
  durationMicros: 2_000_000,
  errors: { connect: 1, read: 0, write: 0, status, timeout: 2 },
  latencyMicros: { mean: 1000, max: p99 * 2, p50: p99 / 4, p90: p99 / 2, p99 },
})

describe('summarizeWrk', () => {
  it('sums the nodes’ rates and counts and takes the larger percentile of the two', () => {
    const counts = summarizeWrk([
      { url: 'http://a', connections: 25, summary: node(20_000, 0, 4000) },
      { url: 'http://b', connections: 25, summary: node(10_000, 5, 8000) },
    ])
    assert.equal(counts.requestsPerSecond, 15_000)
    assert.equal(counts.requests, 30_000)
    assert.equal(counts.non2xx, 5)
    assert.equal(counts.errors, 6)
    assert.equal(counts.timeouts, 4)
    assert.deepEqual(counts.statusCodes, { '2xx/3xx': 29_995, '4xx/5xx': 5 })
    assert.deepEqual(counts.latencyMs, { p50: 2, p90: 4, p99: 8, mean: 1, max: 16 })
    assert.deepEqual(
      counts.nodes?.map((n) => n.requestsPerSecond),
      [10_000, 5_000],
    )
  })

  it('gives one node’s percentiles as wrk measured them, in ms', () => {
    const counts = summarizeWrk([
      { url: 'http://a', connections: 50, summary: node(1000, 0, 1234) },
    ])
    assert.equal(counts.latencyMs.p99, 1.234)
    assert.equal(counts.nodes, undefined)
    assert.deepEqual(counts.statusCodes, { '2xx/3xx': 1000 })
  })
})
