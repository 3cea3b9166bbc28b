import assert from 'node:assert/strict'
import { availableParallelism } from 'node:os'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { offloadAfter, OffloadPolicy } from './offload.js'
import { resolveOptions } from './options.js'

const base = {
  issuer: 'https://as.example',
  audience: 'https://api.example',
  clientId: 'rs',
  clientSecret: 's',
}

describe('where signatures are checked', () => {
  it('follows an explicit choice, and defaults to auto', () => {
    assert.equal(new OffloadPolicy(true).offloadNext(), true)
    assert.equal(new OffloadPolicy(false).offloadNext(), false)
    assert.equal(resolveOptions(base).offloadSignatureChecks, 'auto')
    assert.equal(
      resolveOptions({ ...base, offloadSignatureChecks: true }).offloadSignatureChecks,
      true,
    )
    assert.throws(
      () => resolveOptions({ ...base, offloadSignatureChecks: 'yes' as unknown as boolean }),
      /offloadSignatureChecks/,
    )
  })

  it('auto: inline while the event loop is idle, on the pool while it is saturated, inline again after', async () => {
    const policy = new OffloadPolicy('auto')
    try {
      assert.equal(policy.offloadNext(), false)
      if (availableParallelism() < 2) return
      // Keep the loop busy across several samples (100 ms each), yielding so the sampler runs.
      const busyUntil = performance.now() + 450
      while (performance.now() < busyUntil) {
        const spin = performance.now() + 20
        while (performance.now() < spin);
        await new Promise((r) => setImmediate(r))
      }
      assert.equal(policy.offloadNext(), true)
      await new Promise((r) => setTimeout(r, 350))
      assert.equal(policy.offloadNext(), false)
    } finally {
      policy.close()
    }
  })
  it('auto: a loop that would be busy with its checks back keeps them on the pool', () => {
    const sample = { utilization: 0.4, elapsedMs: 100, offloaded: 0, inlineMs: 0.08 }
    // Saturated: to the pool, whatever the rest.
    assert.equal(offloadAfter(false, { ...sample, utilization: 0.85 }), true)
    // Inline and not saturated: stays inline.
    assert.equal(offloadAfter(false, sample), false)
    // On the pool, 40% busy, 500 checks of 0.08 ms sent in 100 ms: inline it would be 80% busy.
    assert.equal(offloadAfter(true, { ...sample, offloaded: 500 }), true)
    // Still 45% + 0.08 ms × 100 / 100 ms = 53%: stays.
    assert.equal(offloadAfter(true, { ...sample, utilization: 0.45, offloaded: 100 }), true)
    // 40% + 8%: back inline.
    assert.equal(offloadAfter(true, { ...sample, offloaded: 100 }), false)
    // No inline check timed yet: by the utilisation alone.
    assert.equal(offloadAfter(true, { ...sample, offloaded: 500, inlineMs: 0 }), false)
    assert.equal(offloadAfter(true, { ...sample, utilization: 0.6, inlineMs: 0 }), true)
  })

  it('auto: fast-check, never back inline while the projected load stays at or above half', () => {
    fc.assert(
      fc.property(
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.double({ min: 1, max: 5000, noNaN: true }),
        fc.nat(100_000),
        fc.double({ min: 0, max: 5, noNaN: true }),
        (utilization, elapsedMs, offloaded, inlineMs) => {
          const next = offloadAfter(true, { utilization, elapsedMs, offloaded, inlineMs })
          const projected = utilization + (offloaded * inlineMs) / elapsedMs
          return next === (utilization > 0.8 || projected >= 0.5)
        },
      ),
    )
  })
})
