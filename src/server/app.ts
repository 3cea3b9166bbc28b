/**
 * Builds the HTTP app from a `ServerContext`: body parsing held to the RFCs, one error handler, metrics
 * and request logs, and the endpoints. Does not listen: `serve.ts` does.
 *
 * An issuer with a path (`https://h/auth`) has its endpoints under that path (`/auth/token`, …) and
 * its metadata where RFC 8414 §3.1 puts it, the well-known segment between host and path
 * (`/.well-known/oauth-authorization-server/auth`); `/healthz` and `/metrics` stay at the root.
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http'
import fastifyCookie from '@fastify/cookie'
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify'
import { OAuthError } from '../errors.js'
import type { ServerContext } from './context.js'
import { registerAdminEndpoints } from './endpoints/admin.js'
import { registerAuthorizeEndpoint } from './endpoints/authorize.js'
import { registerConsoleEndpoint } from './endpoints/console.js'
import { registerFeedEndpoint } from './endpoints/feed.js'
import { registerHealthEndpoint, registerMetricsEndpoint } from './endpoints/health.js'
import { registerIntrospectionEndpoint } from './endpoints/introspection.js'
import { registerJwksEndpoint } from './endpoints/jwks.js'
import { registerLogoutEndpoint } from './endpoints/logout.js'
import { registerMetadataEndpoint } from './endpoints/metadata.js'
import { issuerPath } from './issuer.js'
import { registerParEndpoint } from './endpoints/par.js'
import { registerPhantomEndpoint } from './endpoints/phantom.js'
import { registerRevocationEndpoint } from './endpoints/revocation.js'
import { registerTokenEndpoint } from './endpoints/token.js'
import { registerUserinfoEndpoint } from './endpoints/userinfo.js'
import { handleClientError, handleError, sendOAuthError } from './errors.js'
import { checkFormContentType, parseForm } from './form.js'
import { checkSingleHeaders } from './headers.js'

export function createApp(ctx: ServerContext): FastifyInstance {
  const app: FastifyInstance = Fastify<Server, IncomingMessage, ServerResponse, FastifyBaseLogger>({
    loggerInstance: ctx.logger,
    // Fastify's own per-request lines log the URL; ours (onResponse below) log the route pattern only.
    logController: new LogController({ disableRequestLogging: true }),
    // `request.log` is the server's logger itself, not a child per request: the child would carry
    // only Fastify's request counter (no request id header is trusted), at an allocation per request.
    childLoggerFactory: (logger) => logger,
    bodyLimit: ctx.config.bodyLimit,
    trustProxy: ctx.config.trustProxy,
    return503OnClosing: true,
    clientErrorHandler: handleClientError,
    requestIdHeader: false,
    routerOptions: { maxParamLength: 256 },
  })

  // Only form bodies are accepted; JSON and everything else get 400 invalid_request (errors.ts).
  // Fastify picks this parser by the media type alone: the parameters are checked here.
  app.removeAllContentTypeParsers()
  app.addContentTypeParser(
    'application/x-www-form-urlencoded',
    { parseAs: 'buffer' },
    (request, body, done) => {
      try {
        checkFormContentType(request.headers['content-type'])
        done(null, parseForm(body as Buffer))
      } catch (err) {
        done(err as Error, undefined)
      }
    },
  )

  // Before routing, so every endpoint (and the authorization endpoint's pages) is covered.
  app.addHook('onRequest', (request, _reply, done) => {
    try {
      checkSingleHeaders(request.raw.rawHeaders)
      done()
    } catch (err) {
      done(err as Error)
    }
  })

  app.setErrorHandler(handleError)
  app.setNotFoundHandler((_request, reply) =>
    sendOAuthError(reply, new OAuthError('invalid_request', 'no such endpoint', { status: 404 })),
  )

  countRequests(app, ctx)

  registerMetadataEndpoint(app, ctx)
  void app.register(
    (scope, _options, done) => {
      // Cookies belong to the browser's endpoints alone: the cookie plugin's onSend hook runs on
      // their replies only, not on every token, introspection or API call.
      void scope.register((browser, _browserOptions, browserDone) => {
        void browser.register(fastifyCookie)
        registerAuthorizeEndpoint(browser, ctx)
        registerLogoutEndpoint(browser, ctx)
        browserDone()
      })
      registerParEndpoint(scope, ctx)
      registerJwksEndpoint(scope, ctx)
      registerTokenEndpoint(scope, ctx)
      registerIntrospectionEndpoint(scope, ctx)
      registerRevocationEndpoint(scope, ctx)
      registerFeedEndpoint(scope, ctx)
      registerUserinfoEndpoint(scope, ctx)
      registerPhantomEndpoint(scope, ctx)
      registerAdminEndpoints(scope, ctx)
      registerConsoleEndpoint(scope, ctx)
      done()
    },
    { prefix: issuerPath(ctx.config.issuer) },
  )
  registerHealthEndpoint(app, ctx)
  if (ctx.config.metricsPort === undefined) registerMetricsEndpoint(app, ctx)
  return app
}

/**
 * The listener of `/metrics` alone, when `metricsPort` moves it off the main one: the same registry,
 * so it reports every request the main listener answered (and its own scrapes).
 */
export function createMetricsApp(ctx: ServerContext): FastifyInstance {
  const app: FastifyInstance = Fastify<Server, IncomingMessage, ServerResponse, FastifyBaseLogger>({
    loggerInstance: ctx.logger,
    logController: new LogController({ disableRequestLogging: true }),
    return503OnClosing: true,
    clientErrorHandler: handleClientError,
    requestIdHeader: false,
  })
  app.removeAllContentTypeParsers()
  app.setErrorHandler(handleError)
  app.setNotFoundHandler((_request, reply) =>
    sendOAuthError(reply, new OAuthError('invalid_request', 'no such endpoint', { status: 404 })),
  )
  countRequests(app, ctx)
  registerMetricsEndpoint(app, ctx)
  return app
}

/** Counts (and, with `logRequests`, logs) every answer by route pattern and status. */
function countRequests(app: FastifyInstance, ctx: ServerContext): void {
  // `x-content-type-options: nosniff` is set where each response is built (sendOAuthError, the
  // endpoints), not in an onSend hook: one hook runner less per request.
  const { http } = ctx.metrics
  app.addHook('onResponse', (request, reply, done) => {
    // The route pattern, never the raw URL: bounded label values, and no query strings in logs.
    const route = request.routeOptions.url ?? 'unmatched'
    const status = reply.statusCode
    http.record(request.method, route, status, reply.elapsedTime / 1000)
    if (ctx.config.logRequests) {
      request.log.info(
        { method: request.method, route, status, ms: Math.round(reply.elapsedTime * 100) / 100 },
        'request',
      )
    }
    done()
  })
}
