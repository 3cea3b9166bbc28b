/**
 * `latchkey serve`: runs the authorization server until SIGTERM or SIGINT, then shuts down cleanly:
 * in-flight requests finish, the database closes. With more than one worker (`--workers`, one per
 * core by default) this process is the cluster's primary (`server/workers/primary.ts`): it prints the
 * same lines once, and on a signal every worker closes before it exits.
 */
import { loadServeConfig, type ServeConfig } from '../../config.js'
import { metadataUrl } from '../../server/issuer.js'
import { createLogger, freePort, startServer } from '../../server/serve.js'
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
  workers?: string
}

/** What `serve` runs: one server in this process, or the primary of a cluster of workers. */
interface Running {
  url: string
  metricsUrl: string | undefined
  consoleUrl: string | undefined
  close(): Promise<void>
}

export async function serve(o: ServeOptions): Promise<void> {
  let config = loadServeConfig({ ...o })
  if (config.port === 0) config = loadServeConfig({ ...o, port: await freePort(config.host) })
  const server = await start(config)
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

async function start(config: ServeConfig): Promise<Running> {
  if (config.workers === 1) return startServer(config)
  const { startWorkers, WorkersStartError } = await import('../../server/workers/primary.js')
  const logger = createLogger(config)
  try {
    const workers = await startWorkers(config, logger)
    // Workers that keep failing to start after a crash: one line, and a non-zero exit.
    void workers.failed.then(async (err) => {
      process.stderr.write(`latchkey: ${err.message}\n`)
      await workers.close().catch(() => {})
      process.exit(1)
    })
    return workers
  } catch (err) {
    if (err instanceof WorkersStartError) {
      process.stderr.write(`latchkey: ${err.message}\n`)
      process.exit(1)
    }
    throw err
  }
}
