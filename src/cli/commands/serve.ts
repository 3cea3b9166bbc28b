/**
 * `latchkey serve`: runs the authorization server until SIGTERM or SIGINT, then shuts down cleanly:
 * in-flight requests finish, the database closes.
 */
import { loadServeConfig } from '../../config.js'
import { metadataUrl } from '../../server/issuer.js'
import { freePort, startServer } from '../../server/serve.js'
import { displayDbUrl } from '../store.js'

export interface ServeOptions {
  port?: string
  host?: string
  db?: string
  issuer?: string
  redis?: string
  redisPrefix?: string
  signingAlg?: string
  logLevel?: string
  metricsPort?: string
  metricsHost?: string
  logoutEndsSessions?: string
}

export async function serve(o: ServeOptions): Promise<void> {
  let config = loadServeConfig({ ...o })
  if (config.port === 0) config = loadServeConfig({ ...o, port: await freePort(config.host) })
  const server = await startServer(config)
  const db = displayDbUrl(config.db)
  process.stderr.write(
    [
      `latchkey: listening on ${server.url}, issuer ${config.issuer}, store ${db}`,
      `latchkey: metadata at ${metadataUrl(config.issuer)}`,
      ...(server.metricsUrl ? [`latchkey: metrics at ${server.metricsUrl}/metrics`] : []),
      ...(server.consoleUrl ? [`latchkey: web console at ${server.consoleUrl}`] : []),
      `latchkey: next, create a client:  npx latchkey client create --db ${db} --id my-service --grant client_credentials --scope "read write"`,
      '',
    ].join('\n'),
  )
  const stop = (signal: string): void => {
    process.stderr.write(`latchkey: ${signal} received, shutting down\n`)
    server.close().then(
      () => process.exit(0),
      (err: unknown) => {
        process.stderr.write(`latchkey: shutdown failed: ${String(err)}\n`)
        process.exit(1)
      },
    )
  }
  process.once('SIGTERM', () => stop('SIGTERM'))
  process.once('SIGINT', () => stop('SIGINT'))
}
