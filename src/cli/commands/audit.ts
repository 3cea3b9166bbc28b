/**
 * `latchkey audit list`: the audit log, newest first (`admin/audit.ts`).
 */
import * as audit from '../../admin/audit.js'
import { printJSON } from '../output.js'
import { withStore } from '../store.js'

export async function listAudit(o: audit.ListAuditOptions & { db?: string }): Promise<void> {
  // Bad options are refused before the store is opened.
  audit.auditFilter(o)
  await withStore(o.db, async (store) => printJSON(await audit.listAudit(store, o)))
}
