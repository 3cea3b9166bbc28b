/** Key pairs for tests: one of the kind each signing algorithm takes (RSA of 2048 bits). */
import { generateKeyPairSync, type KeyObject } from 'node:crypto'
import type { SigningAlg } from '../jwt.js'

export function keyPairFor(alg: SigningAlg): { privateKey: KeyObject; publicKey: KeyObject } {
  return alg === 'ES256'
    ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
    : alg === 'EdDSA'
      ? generateKeyPairSync('ed25519')
      : generateKeyPairSync('rsa', { modulusLength: 2048 })
}
