/**
 * `@latchkey/verifier/revocation`: the revocation feed's wire as the SDK reads it (its events, the
 * set that matches tokens against them, the SSE framing, and how an opaque token is named), shared
 * with the Latchkey server, which keeps the same set for its own nodes. Not part of the SDK's stable
 * API: a resource server uses `createVerifier`, which follows the feed itself.
 */
export {
  parseFeedEvent,
  RevocationSet,
  type FeedEvent,
  type RevocationKind,
} from './revocation_set.js'
export { SSEParser, type SSEMessage } from './sse.js'
export { hashOpaqueToken } from './token_hash.js'
