/**
 * The thread an offloaded signature check runs on (`signature_worker.ts` starts it): it holds the
 * public keys it is sent, checks each signature it is sent with `verifyWith`, the call
 * `JWTVerificationKey.verifySync` makes, and answers whether it is valid. A check
 * whose key it does not hold, or that throws, is not valid.
 */
import { parentPort } from 'node:worker_threads'
import { verifyWith, type VerifyParams } from './jwt.js'

export type ThreadMessage =
  | ({ type: 'key'; id: number } & VerifyParams)
  | { type: 'drop'; id: number }
  | { type: 'verify'; check: number; key: number; input: string; signature: Uint8Array }

export interface ThreadAnswer {
  check: number
  valid: boolean
}

const port = parentPort
if (port === null) throw new Error('signature_thread.js runs as a worker thread')

const keys = new Map<number, VerifyParams>()

port.on('message', (m: ThreadMessage) => {
  if (m.type === 'key') keys.set(m.id, { digest: m.digest, key: m.key })
  else if (m.type === 'drop') keys.delete(m.id)
  else {
    const key = keys.get(m.key)
    const valid = key !== undefined && verifyWith(key, m.input, m.signature)
    const answer: ThreadAnswer = { check: m.check, valid }
    port.postMessage(answer)
  }
})
