/**
 * A revocation event in its wire shape: the feed's JSON and SSE, and what the verifier's
 * `RevocationSet` takes (a node's own copy of the revocations uses the same set).
 */
import type { FeedEvent } from '@latchkey/verifier/revocation'
import type { RevocationEvent } from './types.js'

export function toWire(e: RevocationEvent): FeedEvent {
  return {
    seq: e.seq,
    kind: e.kind,
    value: e.value,
    client_id: e.clientId,
    created_at: e.createdAt,
    expires_at: e.expiresAt,
  }
}
