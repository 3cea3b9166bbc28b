/**
 * Keys the server derives from its configuration rather than stores, so that every node behind a
 * balancer computes the same ones: SHA-256 over a purpose label, the key-encryption secret (when set;
 * its secrecy is what keeps the key unguessable) and the issuer.
 */
import { createHash } from 'node:crypto'
import type { ServeConfig } from '../config.js'

/** The key for `label` (such as `latchkey csrf v1`): 32 bytes, the same on every node. */
export function deriveServerKey(
  label: string,
  config: Pick<ServeConfig, 'keyEncryptionSecret' | 'issuer'>,
): Buffer {
  return createHash('sha256')
    .update(`${label}\0`)
    .update(config.keyEncryptionSecret ?? '')
    .update('\0')
    .update(config.issuer)
    .digest()
}
