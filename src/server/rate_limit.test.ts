import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { FailureLimiter, type LimiterChange } from './rate_limit.js'

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

  it('shares its changes with a sibling, which applies them without echoing them back', () => {
    const a = new FailureLimiter(60)
    const b = new FailureLimiter(60)
    const fromA: LimiterChange[] = []
    const fromB: LimiterChange[] = []
    a.onChange = (change) => fromA.push(change)
    b.onChange = (change) => fromB.push(change)
    a.fail('k', 1000)
    b.fail('k', 1000)
    for (const change of fromA.splice(0)) b.apply(change)
    for (const change of fromB.splice(0)) a.apply(change)
    a.fail('k', 1001)
    for (const change of fromA.splice(0)) b.apply(change)
    assert.deepEqual(fromB, [], 'applied changes are not told again')
    assert.equal(a.retryAfter('k', 3, 1001), 59)
    assert.equal(b.retryAfter('k', 3, 1001), 59, 'three failures on two limiters count as three')
    a.forgive('k', 1001)
    a.clearStartedBy('x', 1001)
    assert.deepEqual(fromA, [
      ['forgive', 'k', 1001],
      ['clear', 'x', 1001],
    ])
    for (const change of fromA) b.apply(change)
    assert.equal(b.retryAfter('k', 3, 1001), 0)
  })
})
