/**
 * What both engines share about the `consents` table: its columns, and how a remembered scope grows
 * (`sqlite/rows.ts` stores the scope as JSON text, `postgres/rows.ts` as `text[]`).
 */

export const CONSENT_COLUMNS = 'user_id, client_id, scope, granted_at, updated_at'

/**
 * The scopes of `before` and `added` together, sorted by code unit (PostgreSQL's `COLLATE "C"` order
 * for these ASCII names), without repeats: what a consent remembers after an approval.
 */
export function scopeUnion(before: readonly string[], added: readonly string[]): string[] {
  return [...new Set([...before, ...added])].sort()
}
