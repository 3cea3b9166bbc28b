/**
 * The pushed authorization request endpoint (RFC 9126 §2), as named steps: authenticate the client as
 * at the token endpoint (any method it registered, `none` for a public client), refuse a
 * `request_uri` and a `client_id` that is not the authenticated client, check the parameters exactly
 * as the authorization endpoint does (`../authorization_request.ts`), store them, answer 201 with a
 * `request_uri` to use there once, within `expires_in` seconds.
 *
 * Nothing redirects here: every refusal is RFC 6749 §5.2 JSON (RFC 9126 §2.3), a redirect URI that
 * is not registered included (`invalid_request`).
 */
import type { FastifyInstance } from 'fastify'
import { OAuthError } from '../../errors.js'
import { checkAuthorizationRequest } from '../authorization_request.js'
import { authenticateClient } from '../client_auth/index.js'
import type { ServerContext } from '../context.js'
import type { FormParams } from '../form.js'
import { pushRequest } from '../pushed_request.js'

export const PAR_PATH = '/par'

export function registerParEndpoint(app: FastifyInstance, ctx: ServerContext): void {
  // RFC 9126 §2.3: a method other than POST is answered 405.
  app.route({
    method: ['GET', 'PUT', 'DELETE', 'PATCH'],
    url: PAR_PATH,
    handler: (_request, reply) => {
      reply.header('allow', 'POST')
      throw new OAuthError('invalid_request', 'use POST', { status: 405 })
    },
  })
  app.post(PAR_PATH, async (request, reply) => {
    const params = (request.body ?? {}) as FormParams
    const { client } = await authenticateClient(request, params, ctx)
    // RFC 9126 §2.1: request_uri must not be pushed.
    if (params.request_uri !== undefined) {
      throw new OAuthError('invalid_request', 'request_uri must not be pushed')
    }
    // RFC 9126 §2.1: client_id is the authorization request's, and must name the client that pushes.
    if (params.client_id !== undefined && params.client_id !== client.clientId) {
      throw new OAuthError('invalid_request', 'client_id is not the authenticated client')
    }
    // RFC 9126 §2.1: checked as the authorization endpoint would (the form parser refused repeats).
    const checked = await checkAuthorizationRequest(
      { ...params, client_id: client.clientId },
      new Set(),
      ctx,
      true,
    )
    if (checked.kind === 'page') throw new OAuthError('invalid_request', checked.description)
    if (checked.kind === 'redirect') throw checked.error
    const { requestUri, expiresIn } = await pushRequest(
      ctx.store,
      client.clientId,
      checked.request.params,
      ctx.clock(),
    )
    // RFC 9126 §2.2: 201 Created.
    return reply
      .code(201)
      .header('cache-control', 'no-store')
      .header('pragma', 'no-cache')
      .header('x-content-type-options', 'nosniff')
      .send({ request_uri: requestUri, expires_in: expiresIn })
  })
}
