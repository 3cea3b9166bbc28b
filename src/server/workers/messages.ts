/**
 * The messages between the primary of `latchkey serve --workers N` and its workers, over node:cluster's
 * IPC channel. Every one is an object with `lk` naming its kind, so that anything else on the channel
 * (node's own `NODE_CLUSTER` messages) is told apart at a glance.
 *
 * - primary → worker: `start` (the frozen configuration and the worker's slot), `stop` (close
 *   gracefully and exit), `collect` (send your metrics), `metrics` (the cluster's, as asked for),
 *   `broadcast` (a sibling's message).
 * - worker → primary: `ready` (listening to the channel: a message sent before is lost), `listening` (with the metrics listener's URL), `failed` (could not start: one
 *   line, as the CLI would print it), `broadcast` (to every other worker), `scrape` (the cluster's
 *   metrics, please), `collected` (this worker's metrics as prom-client JSON).
 */
import type { ServeConfig } from '../../config.js'

/** What a worker shares with its siblings, by topic. */
export type Topic = 'revoked' | 'client_auth_failures' | 'login_failures'

export type ToWorker =
  | { lk: 'start'; config: ServeConfig; slot: number }
  | { lk: 'stop' }
  | { lk: 'collect'; id: number }
  | { lk: 'metrics'; id: number; text: string }
  | { lk: 'broadcast'; topic: Topic; data: unknown }

export type ToPrimary =
  | { lk: 'ready' }
  | { lk: 'listening'; url: string; metricsUrl: string | undefined; consoleUrl: string | undefined }
  | { lk: 'failed'; error: string }
  | { lk: 'broadcast'; topic: Topic; data: unknown }
  | { lk: 'scrape'; id: number }
  | { lk: 'collected'; id: number; metrics: unknown }

/** Whether `message` is one of ours (and not one of node's own cluster messages). */
export function isOurs<T extends { lk: string }>(message: unknown): message is T {
  return (
    typeof message === 'object' &&
    message !== null &&
    typeof (message as { lk?: unknown }).lk === 'string'
  )
}
