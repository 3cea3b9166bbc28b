/**
 * Redis for tests: the machine's server (`LATCHKEY_TEST_REDIS` names another), shared by every run, so
 * each test keeps its keys under a prefix of its own and deletes them when done.
 */
import { randomBytes } from 'node:crypto'
import { Redis } from 'ioredis'

export const TEST_REDIS_URL = process.env.LATCHKEY_TEST_REDIS ?? 'redis://127.0.0.1:6379'

/** A key prefix no other run uses. */
export function testRedisPrefix(): string {
  return `latchkey-test-${randomBytes(6).toString('hex')}:`
}

/** Deletes every key under `prefix`. */
export async function deleteRedisKeys(prefix: string, url = TEST_REDIS_URL): Promise<void> {
  const redis = new Redis(url)
  try {
    const keys = await redis.keys(`${prefix}*`)
    if (keys.length > 0) await redis.del(...keys)
  } finally {
    redis.disconnect()
  }
}
