/**
 * Remembered consents of the PostgreSQL engine (`consents` table, see `./index.ts`). Revoking a
 * consent ends sessions, so it lives with the other revoking writes in `./revoke.ts`.
 */

import type { ConsentRecord } from '../types.js'
import { sql, type PgDatabase } from './connection.js'
import { CONSENT_COLUMNS, consentFromRow, scopeUnion, type ConsentRow } from './rows.js'

// One statement: the union is computed under the row lock the conflict takes, so concurrent grants
// for one (user, client) each add their scopes. `COLLATE "C"`: the order `scopeUnion` gives.
const GRANT_CONSENT = sql(
  'grant_consent',
  `INSERT INTO consents (${CONSENT_COLUMNS}) VALUES ($1, $2, $3, $4, $4)
   ON CONFLICT (user_id, client_id) DO UPDATE SET
     scope = ARRAY(SELECT DISTINCT x COLLATE "C" FROM unnest(consents.scope || EXCLUDED.scope)
                   AS u (x) ORDER BY 1),
     updated_at = EXCLUDED.updated_at`,
)
const SELECT_CONSENT = sql(
  'select_consent',
  `SELECT ${CONSENT_COLUMNS} FROM consents WHERE user_id = $1 AND client_id = $2`,
)
const SELECT_CONSENTS = sql(
  'select_consents',
  `SELECT ${CONSENT_COLUMNS} FROM consents
   WHERE ($1::text IS NULL OR user_id = $1) AND ($2::text IS NULL OR client_id = $2)
   ORDER BY user_id COLLATE "C", client_id COLLATE "C"`,
)

export class PgConsents {
  constructor(private readonly db: PgDatabase) {}

  async grant(userId: string, clientId: string, scope: string[], at: number): Promise<void> {
    await this.db.count(GRANT_CONSENT, [userId, clientId, scopeUnion([], scope), at])
  }

  async get(userId: string, clientId: string): Promise<ConsentRecord | null> {
    const [row] = await this.db.rows<ConsentRow>(SELECT_CONSENT, [userId, clientId])
    return row === undefined ? null : consentFromRow(row)
  }

  async list(filter: { userId?: string; clientId?: string }): Promise<ConsentRecord[]> {
    const rows = await this.db.rows<ConsentRow>(SELECT_CONSENTS, [
      filter.userId ?? null,
      filter.clientId ?? null,
    ])
    return rows.map(consentFromRow)
  }
}
