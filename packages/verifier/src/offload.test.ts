import assert from 'node:assert/strict'
import { availableParallelism } from 'node:os'
import { describe, it } from 'node:test'
import { OffloadPolicy } from './offload.js'
import { resolveOptions } from './options.js'

const base = {
  issuer: 'https://as.example',
  audience: 'https://api.example',
  clientId: 'rs',
  clientSecret: 's',
}

describe('where signatures are checked', () => {
  it('follows an explicit choice, and defaults to auto', () => {
    assert.equal(new OffloadPolicy(true).offload, true)
    assert.equal(new OffloadPolicy(false).offload, false)
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
      assert.equal(policy.offload, false)
      if (availableParallelism() < 2) return
      // Keep the loop busy across several samples (100 ms each), yielding so the sampler runs.
      const busyUntil = performance.now() + 450
      while (performance.now() < busyUntil) {
        const spin = performance.now() + 20
        while (performance.now() < spin);
        await new Promise((r) => setImmediate(r))
      }
      assert.equal(policy.offload, true)
      await new Promise((r) => setTimeout(r, 350))
      assert.equal(policy.offload, false)
    } finally {
      policy.close()
    }
  })
})
