/** `latchkey/verifier/hono`: the SDK's Hono adapter, re-exported from `@latchkey/verifier/hono`. */
export * from '@latchkey/verifier/hono'
