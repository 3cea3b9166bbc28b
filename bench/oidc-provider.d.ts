/**
 * The small part of `oidc-provider`'s API that `reference_server.ts` uses (the package ships no types
 * of its own; @types/oidc-provider is not installed).
 */
declare module 'oidc-provider' {
  import type { IncomingMessage, ServerResponse } from 'node:http'

  export interface OIDCClient {
    clientId: string
  }

  export interface OIDCContext {
    oidc: { client?: OIDCClient }
  }

  export interface ResourceServerInfo {
    scope: string
    audience?: string
    accessTokenTTL?: number
    accessTokenFormat?: 'jwt' | 'opaque'
    jwt?: { sign?: { alg?: string; kid?: string } }
  }

  export interface Configuration {
    clients?: Record<string, unknown>[]
    clientDefaults?: Record<string, unknown>
    jwks?: { keys: Record<string, unknown>[] }
    scopes?: string[]
    cookies?: { keys?: string[] }
    features?: {
      devInteractions?: { enabled: boolean }
      clientCredentials?: { enabled: boolean }
      introspection?: { enabled: boolean }
      revocation?: { enabled: boolean }
      resourceIndicators?: {
        enabled: boolean
        defaultResource?: (
          ctx: OIDCContext,
          client: OIDCClient,
          oneOf?: string[],
        ) => string | string[] | undefined | Promise<string | string[] | undefined>
        useGrantedResource?: (ctx: OIDCContext, model: unknown) => boolean | Promise<boolean>
        getResourceServerInfo?: (
          ctx: OIDCContext,
          resourceIndicator: string,
          client: OIDCClient,
        ) => ResourceServerInfo | Promise<ResourceServerInfo>
      }
    }
  }

  export class Provider {
    constructor(issuer: string, configuration?: Configuration)
    /** The Koa request handler, for `http.createServer`. */
    callback(): (request: IncomingMessage, response: ServerResponse) => void
    on(event: 'server_error', listener: (ctx: unknown, error: Error) => void): this
  }

  export const errors: {
    InvalidTarget: new (description?: string) => Error
  }

  export default Provider
}
