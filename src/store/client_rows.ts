/**
 * What both engines share about the `clients` table: its columns, in the order their rows map to and
 * from (`sqlite/rows.ts` stores lists and key sets as JSON text, `postgres/rows.ts` as `text[]` and
 * `jsonb`).
 */

export const CLIENT_COLUMNS =
  'client_id, secret_hash, grants, scopes, redirect_uris, access_token_format, access_token_ttl, ' +
  'resource_server, created_at, auth_method, jwks, jwks_uri, audiences, exchange_audiences, ' +
  'require_par, allowed_origins, display_name, logo_uri, third_party, post_logout_redirect_uris, ' +
  'backchannel_logout_uri, id_token_signed_response_alg, require_dpop'

/** The columns after `client_id`, the first: what an update sets. */
export const CLIENT_UPDATE_COLUMNS = CLIENT_COLUMNS.split(',')
  .slice(1)
  .map((c) => c.trim())

/** How many columns `CLIENT_COLUMNS` names (the placeholders of an insert). */
export const CLIENT_COLUMN_COUNT = CLIENT_COLUMNS.split(',').length
