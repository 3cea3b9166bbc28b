import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { FailureLimiter } from './rate_limit.js'

describe('FailureLimiter', () => {
  it('lets a key fail up to its limit, then refuses it until the window ends', () => {
    const limiter = new FailureLimiter(60)
    for (let i = 0; i < 3; i++) {
      assert.equal(limiter.retryAfter('k', 3, 1000), 0)
      limiter.fail('k', 1000)
    }
    assert.equal(limiter.retryAfter('k', 3, 1000), 60)
    assert.equal(limiter.retryAfter('k', 3, 1059), 1)
    assert.equal(limiter.retryAfter('k', 3, 1060), 0, 'a new window starts afresh')
    assert.equal(limiter.retryAfter('other', 3, 1000), 0, 'keys are independent')
  })

  it('takes back a failure when forgiven, within the same window only', () => {
    const limiter = new FailureLimiter(60)
    limiter.fail('k', 1000)
    limiter.fail('k', 1000)
    assert.equal(limiter.retryAfter('k', 2, 1000), 60)
    limiter.forgive('k', 1001)
    assert.equal(limiter.retryAfter('k', 2, 1001), 0)
    limiter.forgive('k', 1001)
    limiter.forgive('k', 1001)
    limiter.fail('k', 1001)
    limiter.fail('k', 1001)
    assert.equal(limiter.retryAfter('k', 2, 1001), 59, 'never goes below zero')
    limiter.forgive('absent', 1001)
    assert.equal(limiter.retryAfter('absent', 1, 1001), 0)
  })

  it('stays bounded in memory', () => {
    const limiter = new FailureLimiter(60, 100)
    for (let i = 0; i < 1000; i++) limiter.fail(`k${i}`, 1000)
    assert.ok((limiter as unknown as { windows: Map<string, unknown> }).windows.size <= 100)
  })
})
