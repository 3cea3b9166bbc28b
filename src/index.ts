/**
 * The programmatic API of the `latchkey` package (docs/API.md): start the authorization server in
 * this process on a store, and set it up with the operations the CLI runs (clients, users, keys,
 * sessions, consents). The resource-server SDK is its own package, `@latchkey/verifier`.
 */
export { startServer, type Server, type ServerOptions } from './server/embedded.js'
export { openStore, type OpenStoreOptions } from './store/index.js'
export type { Store } from './store/types.js'
export { loadServeConfig, type ServeConfig } from './config.js'
export { SETTINGS, type Setting, type SettingName } from './settings.js'
export {
  ConfigError,
  ConflictError,
  MissingDatabaseError,
  OAuthError,
  StoreUnavailableError,
  UsageError,
  type OAuthErrorCode,
} from './errors.js'
export {
  createClient,
  deleteClient,
  listClients,
  showClient,
  type ClientJSON,
  type CreateClientOptions,
} from './admin/clients.js'
export {
  createUser,
  deleteUser,
  listUsers,
  setPassword,
  unlockUser,
  updateUser,
  type PasswordSource,
  type ProfileChanges,
  type UserJSON,
} from './admin/users.js'
export {
  listKeys,
  retireKey,
  rotateKey,
  type KeyJSON,
  type RotateKeyOptions,
} from './admin/keys.js'
export { listSessions, revokeSessions, type SessionJSON } from './admin/sessions.js'
export { listConsents, revokeConsents, type ConsentJSON } from './admin/consents.js'
export { listAudit, type AuditEventJSON, type ListAuditOptions } from './admin/audit.js'
