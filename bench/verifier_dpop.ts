/**
 * What a DPoP proof costs the verifier SDK (RFC 9449 §7): `checkDpopProof` alone, and `verify` of a
 * token bound to a key with a fresh proof each time, beside `verify` of a plain bearer token, both
 * warm (the token cached: the proof is then the whole cost) and cold (every token new). ES256
 * everywhere, next to raw `node:crypto` ES256 verification measured in the same run. Needs no server:
 * a fake issuer in this process serves the metadata and JWKS, and the tokens and proofs are signed
 * before the clock starts.
 *
 * Usage: node dist/bench/verifier_dpop.js [--seconds S] (default 3 per measure)
 */
import { createHash, generateKeyPairSync, randomUUID, sign, verify } from 'node:crypto'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { parseArgs } from 'node:util'
import { createVerifier } from '@latchkey/verifier'
import { checkDpopProof, jwkThumbprint } from '@latchkey/verifier/dpop'
import { JWTSigner, type AccessTokenClaims, type JWK } from '../src/tokens/jwt.js'

const { values } = parseArgs({ options: { seconds: { type: 'string', default: '3' } } })
const SECONDS = Number(values.seconds)
const AUDIENCE = 'https://api.example'
const HTU = 'https://api.example/orders'

/** Calls `fn(i)` for `seconds` (or until `limit` calls), synchronously; ops/s. */
function syncRate(fn: (i: number) => unknown, seconds: number, limit = Infinity): number {
  const start = performance.now()
  let i = 0
  let now = start
  while (now - start < seconds * 1000 && i < limit) {
    for (let j = 0; j < 16 && i < limit; j++) fn(i++)
    now = performance.now()
  }
  return i / ((now - start) / 1000)
}

/** Runs `next(i)` one at a time for `seconds` (or until `limit` calls); ops/s. */
async function rate(
  next: (i: number) => unknown,
  seconds: number,
  limit = Infinity,
): Promise<number> {
  let i = 0
  const start = performance.now()
  const end = start + seconds * 1000
  while (performance.now() < end && i < limit) await next(i++)
  return i / ((performance.now() - start) / 1000)
}

function rawVerifyRate(seconds: number): number {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  const input = Buffer.from('x'.repeat(330))
  const key = { key: publicKey, dsaEncoding: 'ieee-p1363' as const }
  const signature = sign('sha256', input, { key: privateKey, dsaEncoding: 'ieee-p1363' })
  return syncRate(() => verify('sha256', input, key, signature), seconds)
}

// The client's DPoP key, and its proofs: one per request, each with its own jti.
const client = generateKeyPairSync('ec', { namedCurve: 'P-256' })
const clientJwk = client.publicKey.export({ format: 'jwk' }) as JWK
const header = Buffer.from(
  JSON.stringify({ typ: 'dpop+jwt', alg: 'ES256', jwk: clientJwk }),
).toString('base64url')
function proofFor(token: string, iat: number): string {
  const ath = createHash('sha256').update(token).digest('base64url')
  const claims = { jti: randomUUID(), htm: 'GET', htu: HTU, iat, ath }
  const input = `${header}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}`
  const signature = sign('sha256', Buffer.from(input), {
    key: client.privateKey,
    dsaEncoding: 'ieee-p1363',
  })
  return `${input}.${signature.toString('base64url')}`
}

// A fake issuer: metadata and JWKS only (no feed: revocations are not what is measured here).
const issuerKey = generateKeyPairSync('ec', { namedCurve: 'P-256' })
const signer = new JWTSigner(issuerKey.privateKey, 'k1', 'ES256')
const jwks = {
  keys: [{ ...issuerKey.publicKey.export({ format: 'jwk' }), kid: 'k1', alg: 'ES256', use: 'sig' }],
}
let issuer = ''
const server = createServer((req, res) => {
  const body = req.url === '/jwks' ? jwks : { issuer, jwks_uri: `${issuer}/jwks` }
  res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body))
})
await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok))
issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`

try {
  const now = Math.floor(Date.now() / 1000)
  const jkt = jwkThumbprint(clientJwk)
  const mint = (bound: boolean): Promise<string> => {
    const claims: AccessTokenClaims = {
      iss: issuer,
      sub: 'alice',
      aud: AUDIENCE,
      exp: now + 3600,
      iat: now,
      jti: randomUUID(),
      client_id: 'app',
      scope: 'read',
    }
    if (bound) claims.cnf = { jkt }
    return signer.sign(claims)
  }
  const N = Math.ceil(12_000 * SECONDS)
  const plainTokens = await Promise.all(Array.from({ length: N }, () => mint(false)))
  const boundTokens = await Promise.all(Array.from({ length: N }, () => mint(true)))
  const boundProofs = boundTokens.map((t) => proofFor(t, now))
  const hotBound = boundTokens[0]!
  const hotProofs = Array.from({ length: N }, () => proofFor(hotBound, now))
  const checkProofs = Array.from({ length: N }, () => proofFor(hotBound, now))

  const verifier = createVerifier({
    issuer,
    audience: AUDIENCE,
    revocationFeed: false,
    dpopMaxAge: 600,
    cacheSize: 4 * N,
    dpopReplayCacheSize: 4 * N,
  })
  await verifier.ready()
  // The JWKS is fetched now, from this process's own fake issuer: the synchronous loops below would
  // hold its answer past the request timeout.
  await verifier.verify(await mint(false))
  const dpop = (proof: string) => ({
    dpop: { scheme: 'DPoP' as const, proof, htm: 'GET', htu: HTU },
  })

  const raw = rawVerifyRate(SECONDS)
  const proofOnly = syncRate(
    (i) => checkDpopProof(checkProofs[i]!, { htm: 'GET', htu: HTU, accessToken: hotBound, now }),
    SECONDS,
    N,
  )
  const half = Math.floor(N / 2)
  const coldPlain = await rate((i) => verifier.verify(plainTokens[i]!), SECONDS, half)
  const coldBound = await rate(
    (i) => verifier.verify(boundTokens[i]!, dpop(boundProofs[i]!)),
    SECONDS,
    half,
  )
  const hotPlain = plainTokens[N - 1]!
  await verifier.verify(hotPlain)
  const warmPlain = await rate(() => verifier.verify(hotPlain), SECONDS)
  await verifier.verify(hotBound, dpop(proofFor(hotBound, now)))
  const warmBound = await rate((i) => verifier.verify(hotBound, dpop(hotProofs[i]!)), SECONDS, N)
  verifier.close()

  const row = (name: string, ops: number, note = ''): string =>
    `${name.padEnd(52)} ${Math.round(ops).toLocaleString('en-US').padStart(12)} ops/s  ${note}`
  console.log(`verifier DPoP benchmark (node ${process.version}, ${SECONDS} s per measure)`)
  console.log(row('raw node:crypto ES256 verify', raw))
  console.log(
    row(
      'checkDpopProof (ES256 proof, ath)',
      proofOnly,
      `${((proofOnly / raw) * 100).toFixed(0)}% of raw`,
    ),
  )
  console.log(row('verify plain JWT, cold', coldPlain))
  console.log(
    row(
      'verify DPoP-bound JWT + proof, cold',
      coldBound,
      `${((coldBound / coldPlain) * 100).toFixed(0)}% of plain`,
    ),
  )
  console.log(row('verify plain JWT, warm (cached)', warmPlain))
  console.log(
    row(
      'verify DPoP-bound JWT + proof, warm (token cached)',
      warmBound,
      `${((warmBound / warmPlain) * 100).toFixed(0)}% of plain`,
    ),
  )
  console.log(
    JSON.stringify({
      rawVerifyPerSecond: Math.round(raw),
      dpopProofCheckPerSecond: Math.round(proofOnly),
      coldPlainPerSecond: Math.round(coldPlain),
      coldDpopPerSecond: Math.round(coldBound),
      warmPlainPerSecond: Math.round(warmPlain),
      warmDpopPerSecond: Math.round(warmBound),
    }),
  )
} finally {
  server.closeAllConnections()
  server.close()
}
