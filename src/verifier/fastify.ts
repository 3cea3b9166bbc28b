/** `latchkey/verifier/fastify`: the SDK's Fastify adapter, re-exported from `@latchkey/verifier/fastify`. */
export * from '@latchkey/verifier/fastify'
