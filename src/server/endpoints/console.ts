/**
 * The web console's files at `/console/` (under the issuer's path): plain HTML, CSS and browser ES
 * modules from `src/admin/console/`, no build step. tsc copies no such files into `dist/`, so the
 * folder is found in the source tree beside the compiled code (`dist/src/server/endpoints/` → the
 * package root → `src/admin/console/`); `package.json` `files` ships it.
 *
 * The folder is read once, at start: the files it holds with a known type become a fixed map from
 * name to body, and a request names one of those or gets 404. No request touches the file system,
 * so no path can climb out of the folder. Each answer carries a strong ETag (a `304` for a matching
 * `If-None-Match`) and `Cache-Control: no-cache`, so a browser revalidates and an upgrade is seen at
 * once.
 *
 * Every answer carries the console's CSP: scripts, styles, images and fetches from the same origin
 * only (no inline script or style, no eval), no forms posted anywhere (the console's forms are
 * handled by its script), no framing, no `<base>`. The console's page is also its client's redirect
 * URI, so the code arrives in its query: no referrer is sent from it.
 */
import { createHash } from 'node:crypto'
import { readdirSync, readFileSync } from 'node:fs'
import { extname } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { consoleAllowed, CONSOLE_PATH } from '../../admin/console_client.js'
import { OAuthError } from '../../errors.js'
import type { ServerContext } from '../context.js'
import { sendOAuthError } from '../errors.js'
import { issuerPath } from '../issuer.js'

/** The console's folder in the source tree, from this module compiled under `dist/src/server/endpoints/`. */
export const CONSOLE_DIR = fileURLToPath(new URL('../../../../src/admin/console/', import.meta.url))

export const CONSOLE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "form-action 'none'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
].join('; ')

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
}

/** Names a request may ask for: one plain file name, nothing that could be a path. */
const FILE_NAME = /^[a-z][a-z0-9_]*\.(html|js|css|svg)$/

interface ConsoleFile {
  body: Buffer
  type: string
  etag: string
}

/** The console's files by name, read from `dir`; empty when the folder is missing. */
export function readConsoleFiles(dir: string = CONSOLE_DIR): Map<string, ConsoleFile> {
  const files = new Map<string, ConsoleFile>()
  let names: string[]
  try {
    names = readdirSync(dir)
  } catch {
    return files
  }
  for (const name of names) {
    const type = TYPES[extname(name)]
    if (!FILE_NAME.test(name) || type === undefined) continue
    const body = readFileSync(dir + name)
    const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`
    files.set(name, { body, type, etag })
  }
  return files
}

function sendFile(request: FastifyRequest, reply: FastifyReply, file: ConsoleFile): FastifyReply {
  void reply
    .header('content-security-policy', CONSOLE_CSP)
    .header('x-content-type-options', 'nosniff')
    .header('x-frame-options', 'DENY')
    .header('referrer-policy', 'no-referrer')
    .header('cross-origin-opener-policy', 'same-origin')
    .header('cache-control', 'no-cache')
    .header('etag', file.etag)
  const match = request.headers['if-none-match']
  if (match !== undefined && match.split(/\s*,\s*/).includes(file.etag)) {
    return reply.code(304).send()
  }
  return reply.header('content-type', file.type).send(file.body)
}

/**
 * Registers the console's routes, unless it could not sign in at this issuer (no client is registered
 * for it then: `ensureConsoleClient`) or its files are missing; both are logged at start.
 */
export function registerConsoleEndpoint(app: FastifyInstance, ctx: ServerContext): void {
  if (!consoleAllowed(ctx.config.issuer)) return
  const files = readConsoleFiles()
  const index = files.get('index.html')
  if (index === undefined) {
    ctx.logger.warn({ dir: CONSOLE_DIR }, 'no web console: its files are missing')
    return
  }
  const notFound = (reply: FastifyReply): FastifyReply =>
    sendOAuthError(reply, new OAuthError('invalid_request', 'no such file', { status: 404 }))
  // `/console` → `/console/`: the page's relative URLs (its modules, the API) start from the folder.
  const folder = issuerPath(ctx.config.issuer) + CONSOLE_PATH
  app.get(CONSOLE_PATH.slice(0, -1), (_request, reply) =>
    reply.code(308).header('location', folder).send(),
  )
  app.get(CONSOLE_PATH, (request, reply) => sendFile(request, reply, index))
  app.get(`${CONSOLE_PATH}:file`, (request, reply) => {
    const file = files.get((request.params as { file: string }).file)
    return file === undefined ? notFound(reply) : sendFile(request, reply, file)
  })
}
