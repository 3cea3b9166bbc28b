/** `latchkey/verifier/express`: the SDK's Express adapter, re-exported from `@latchkey/verifier/express`. */
export * from '@latchkey/verifier/express'
