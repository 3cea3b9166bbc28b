/**
 * The entry point of one worker of `latchkey serve --workers N`, forked by the primary
 * (`server/workers/primary.ts`). It waits for its configuration over the IPC channel (never in its
 * arguments or environment, where `ps` would show the secrets), runs the whole server
 * (`startServer`) on the port the cluster shares, tells the primary it listens, or why it could not
 * start (the line the CLI would print), and closes gracefully when asked (`stop`), on SIGTERM or
 * SIGINT, or when the primary goes away.
 */
import { isOurs, type ToPrimary, type ToWorker } from '../server/workers/messages.js'
import { createClusterLink } from '../server/workers/link.js'
import { createLogger, startServer, type RunningServer } from '../server/serve.js'
import { describeFailure } from './output.js'

const send = (message: ToPrimary): void => {
  if (process.connected) process.send!(message, undefined, {}, () => {})
}

let server: RunningServer | undefined
let stopping = false

function stop(): void {
  if (stopping) return
  stopping = true
  // Not started yet: nothing to drain.
  if (server === undefined) process.exit(0)
  server.close().then(
    () => process.exit(0),
    (err: unknown) => {
      process.stderr.write(`latchkey: shutdown failed: ${String(err)}\n`)
      process.exit(1)
    },
  )
}

process.on('message', (message: unknown) => {
  if (!isOurs<ToWorker>(message)) return
  if (message.lk === 'stop') stop()
  else if (message.lk === 'start' && server === undefined) {
    const { slot } = message
    // As `loadServeConfig` gives it (IPC carries a copy).
    const config = Object.freeze({
      ...message.config,
      rateLimit: Object.freeze(message.config.rateLimit),
      loginLimit: Object.freeze(message.config.loginLimit),
    })
    const logger = createLogger(config, slot)
    // LATCHKEY_TEST_WORKER_HEADER=1: for the cluster's tests only (see `StartOptions.workerHeader`).
    const workerHeader = process.env.LATCHKEY_TEST_WORKER_HEADER === '1'
    startServer(config, { logger, link: createClusterLink(slot), workerHeader }).then(
      (running) => {
        server = running
        if (stopping) {
          stopping = false
          stop()
          return
        }
        send({
          lk: 'listening',
          url: running.url,
          metricsUrl: running.metricsUrl,
          consoleUrl: running.consoleUrl,
        })
      },
      (err: unknown) => {
        stopping = true
        const error = describeFailure(err).replace(/\s*\n\s*/g, ' ')
        // Exits once the message is out.
        if (process.connected) process.send!({ lk: 'failed', error }, () => process.exit(1))
        else process.exit(1)
      },
    )
  }
})
send({ lk: 'ready' })
process.once('SIGTERM', stop)
process.once('SIGINT', stop)
// The primary is gone (killed): drain and exit rather than serve unsupervised.
process.once('disconnect', stop)
