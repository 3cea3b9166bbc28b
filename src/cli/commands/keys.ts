/**
 * `latchkey keys list|rotate|retire`: the signing keys (`admin/keys.ts`). Private keys are never
 * printed.
 */
import * as keys from '../../admin/keys.js'
import { SETTINGS } from '../../settings.js'
import { printJSON } from '../output.js'
import { cliActor, withStore } from '../store.js'

/** The server's ID-token lifetime as `serve` reads it, so that keys stay published long enough. */
function idTokenSeconds(): number {
  const set = Number(process.env[SETTINGS.idTokenSeconds.env])
  return Number.isInteger(set) && set > 0 ? set : SETTINGS.idTokenSeconds.default
}

export async function listKeys(o: { db?: string }): Promise<void> {
  await withStore(o.db, async (store) => printJSON(await keys.listKeys(store)))
}

export async function rotateKey(o: {
  db?: string
  alg?: string
  activateIn?: string
}): Promise<void> {
  const options: keys.RotateKeyOptions = {
    alg: o.alg ?? process.env[SETTINGS.signingAlg.env] ?? SETTINGS.signingAlg.default,
    activateIn: o.activateIn,
    keyEncryptionSecret: process.env[SETTINGS.keyEncryptionSecret.env] || undefined,
    idTokenSeconds: idTokenSeconds(),
  }
  keys.checkRotation(options)
  await withStore(o.db, async (store) =>
    printJSON(await keys.rotateKey(store, options, cliActor())),
  )
}

export async function retireKey(o: { db?: string; kid: string }): Promise<void> {
  await withStore(o.db, async (store) =>
    printJSON(await keys.retireKey(store, o.kid, idTokenSeconds(), cliActor())),
  )
}
