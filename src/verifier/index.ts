/**
 * `latchkey/verifier`: the verifier SDK, for applications that depend on `latchkey` itself. The SDK is
 * its own package, `@latchkey/verifier` (no server dependency): this module re-exports it unchanged, as
 * do `latchkey/verifier/express`, `/fastify` and `/hono`.
 *
 * ```ts
 * import { createVerifier } from 'latchkey/verifier' // same as '@latchkey/verifier'
 * ```
 */
export * from '@latchkey/verifier'
