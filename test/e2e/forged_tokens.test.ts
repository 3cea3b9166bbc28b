/**
 * Forged and confused JWT access tokens against a real server (RFC 8725, RFC 9068, SECURITY.md "Forged
 * and confused tokens"): every one is exactly `{"active": false}` at introspection.
 *
 * Tokens that need a valid signature by the server's own key (wrong claims, bad header parameters) are
 * signed with the real private key, read from the server's SQLite file, so that the one defect under
 * test is the only reason they fail; a control signed the same way with valid claims is active.
 */
import assert from 'node:assert/strict'
import {
  createPublicKey,
  createPrivateKey,
  randomUUID,
  sign,
  verify,
  type JsonWebKey,
  type KeyObject,
} from 'node:crypto'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { after, before, describe, it } from 'node:test'
import Database from 'better-sqlite3'
import {
  SignJWT,
  UnsecuredJWT,
  calculateJwkThumbprint,
  createLocalJWKSet,
  decodeJwt,
  exportJWK,
  generateKeyPair,
  jwtVerify,
  type CryptoKey,
  type JWK,
} from 'jose'
import {
  createClient,
  sleep,
  startServer,
  type CreatedClient,
  type HttpResponse,
  type TestServer,
} from '../helpers/server.js'
import {
  ecdsaTwin,
  isLowS,
  toLowS,
  unusedBits,
  withTwinSignature,
  withUnusedBitSet,
} from '../helpers/token_spellings.js'

/** The server's default clock-skew leeway, seconds (config.ts): expired tokens are dated past it. */
const LEEWAY = 5
/** The order of the P-256 group. */
const P256_N = Buffer.from(
  'ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551',
  'hex',
)

const b64u = (data: string | Buffer | Uint8Array): string => Buffer.from(data).toString('base64url')
const segment = (value: unknown): string => b64u(JSON.stringify(value))
const nowSeconds = (): number => Math.floor(Date.now() / 1000)

/** An ES256 signature (r || s, RFC 7518 §3.4) of `input`, in its low-S form as the server's are. */
function es256(input: string, key: KeyObject): string {
  return b64u(toLowS(sign('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' })))
}

/** A compact JWS of two JSON texts exactly as given, signed with `key`. */
function jwsFromText(headerJSON: string, payloadJSON: string, key: KeyObject): string {
  const input = `${b64u(headerJSON)}.${b64u(payloadJSON)}`
  return `${input}.${es256(input, key)}`
}

/** A compact JWS of `header` and `payload`, signed with `key`. */
function jws(header: object, payload: unknown, key: KeyObject): string {
  return jwsFromText(JSON.stringify(header), JSON.stringify(payload), key)
}

function splitToken(token: string): [string, string, string] {
  const parts = token.split('.')
  assert.equal(parts.length, 3)
  return parts as [string, string, string]
}

describe('forged JWT access tokens at introspection', () => {
  let server: TestServer
  let app: CreatedClient
  let api: CreatedClient
  let shortLived: CreatedClient
  let opaque: CreatedClient
  /** A genuine access token of `app`. */
  let genuine: string
  let genuineClaims: Record<string, unknown>
  let jwks: { keys: JWK[] }
  let serverJwk: JWK
  let kid: string
  /** The server's real signing key, read from its database. */
  let realKey: KeyObject
  /** A key pair the attacker controls. */
  let attackerPrivate: CryptoKey
  let attackerJwk: JWK
  let attackerKid: string

  async function issue(client: CreatedClient): Promise<string> {
    const res = await server.post('/token', { grant_type: 'client_credentials' }, [
      client.client_id,
      client.client_secret,
    ])
    assert.equal(res.status, 200, res.text)
    return (res.json as { access_token: string }).access_token
  }

  function introspect(token: string): Promise<HttpResponse> {
    return server.post('/introspect', { token }, [api.client_id, api.client_secret])
  }

  async function assertInactive(token: string, label?: string): Promise<void> {
    const res = await introspect(token)
    assert.equal(res.status, 200, label)
    assert.deepEqual(res.json, { active: false }, label)
  }

  async function assertActive(token: string, label?: string): Promise<HttpResponse> {
    const res = await introspect(token)
    assert.equal(res.status, 200, label)
    assert.equal((res.json as { active?: unknown }).active, true, label)
    return res
  }

  /** The header the server itself writes. */
  const realHeader = (): Record<string, unknown> => ({ alg: 'ES256', typ: 'at+jwt', kid })

  /** Valid access-token claims for `app`, with `overrides` applied (`undefined` removes a claim). */
  function claims(overrides: Record<string, unknown> = {}): Record<string, unknown> {
    const now = nowSeconds()
    const out: Record<string, unknown> = {
      iss: server.url,
      sub: app.client_id,
      aud: server.url,
      exp: now + 300,
      iat: now,
      jti: randomUUID(),
      client_id: app.client_id,
      scope: 'read',
    }
    for (const [name, value] of Object.entries(overrides)) {
      if (value === undefined) delete out[name]
      else out[name] = value
    }
    return out
  }

  /**
   * Valid claims as JSON text, with `"exp": …` replaced by `expText` verbatim, to write numbers JSON
   * can carry but `JSON.stringify` cannot produce (`1e400`, `1e308`).
   */
  function claimsTextWithExp(expText: string): string {
    const text = JSON.stringify(claims({ exp: 0 }))
    assert.ok(text.includes('"exp":0,'))
    return text.replace('"exp":0,', `"exp":${expText},`)
  }

  before(async () => {
    server = await startServer()
    app = createClient(server.db, 'app', '--grant', 'client_credentials', '--scope', 'read write')
    api = createClient(server.db, 'api', '--grant', 'client_credentials', '--resource-server')
    shortLived = createClient(
      server.db,
      'short-lived',
      '--grant',
      'client_credentials',
      '--access-token-ttl',
      '1',
    )
    opaque = createClient(
      server.db,
      'opaque',
      '--grant',
      'client_credentials',
      '--access-token-format',
      'opaque',
    )
    genuine = await issue(app)
    genuineClaims = decodeJwt(genuine)

    const res = await server.get('/.well-known/jwks.json')
    assert.equal(res.status, 200)
    jwks = res.json as { keys: JWK[] }
    // The ES256 access-token key, and the RS256 key of ID tokens beside it.
    assert.deepEqual(jwks.keys.map((k) => k.alg).sort(), ['ES256', 'RS256'])
    serverJwk = jwks.keys.find((k) => k.alg === 'ES256')!
    assert.equal(serverJwk.kty, 'EC')
    assert.equal(serverJwk.crv, 'P-256')
    kid = serverJwk.kid!

    const db = new Database(server.db.replace(/^sqlite:/, ''), { readonly: true })
    try {
      const row = db.prepare('SELECT private_key FROM signing_keys WHERE kid = ?').get(kid) as
        { private_key: string } | undefined
      assert.ok(row, 'the signing key is in the database')
      realKey = createPrivateKey(row.private_key)
    } finally {
      db.close()
    }

    const pair = await generateKeyPair('ES256', { extractable: true })
    attackerPrivate = pair.privateKey
    attackerJwk = await exportJWK(pair.publicKey)
    attackerKid = await calculateJwkThumbprint(attackerJwk)
  })

  after(async () => {
    await server?.dispose()
  })

  describe('controls', () => {
    it('reports a genuine token as active with its claims', async () => {
      const res = await assertActive(genuine)
      const body = res.json
      assert.equal(body.client_id, 'app')
      assert.equal(body.sub, 'app')
      assert.equal(body.iss, server.url)
      assert.equal(body.scope, 'read write')
      assert.equal(body.jti, genuineClaims.jti)
    })

    it('reports a token signed here with the real key and valid claims as active', async () => {
      const token = jws(realHeader(), claims(), realKey)
      const res = await assertActive(token)
      assert.equal(res.json.scope, 'read')
    })

    it('accepts typ application/at+jwt and any letter case of at+jwt', async () => {
      for (const typ of ['application/at+jwt', 'AT+JWT']) {
        await assertActive(jws({ ...realHeader(), typ }, claims(), realKey), typ)
      }
    })
  })

  describe('cross-verification with jose', () => {
    it('verifies a genuine token with jose against the published JWKS', async () => {
      const { payload, protectedHeader } = await jwtVerify(genuine, createLocalJWKSet(jwks), {
        typ: 'at+jwt',
        issuer: server.url,
        algorithms: ['ES256'],
      })
      assert.equal(protectedHeader.kid, kid)
      assert.equal(protectedHeader.alg, 'ES256')
      for (const claim of ['iss', 'sub', 'aud', 'exp', 'iat', 'jti', 'client_id', 'scope']) {
        assert.ok(payload[claim] !== undefined, `claim ${claim} is present`)
      }
      assert.equal(payload.client_id, 'app')
      assert.equal(payload.scope, 'read write')
      assert.ok(payload.exp! > payload.iat!)
    })

    it('gives two tokens different jti', async () => {
      const second = await issue(app)
      const jwkSet = createLocalJWKSet(jwks)
      const a = await jwtVerify(genuine, jwkSet, { typ: 'at+jwt', issuer: server.url })
      const b = await jwtVerify(second, jwkSet, { typ: 'at+jwt', issuer: server.url })
      assert.equal(typeof a.payload.jti, 'string')
      assert.notEqual(a.payload.jti, b.payload.jti)
    })
  })

  describe('alg none', () => {
    it('refuses alg none, None and NONE with an empty or the original signature', async () => {
      const [, payload, signature] = splitToken(genuine)
      for (const alg of ['none', 'None', 'NONE', 'nOnE']) {
        const header = segment({ alg, typ: 'at+jwt', kid })
        await assertInactive(`${header}.${payload}.`, `${alg}, empty signature`)
        await assertInactive(`${header}.${payload}.${signature}`, `${alg}, original signature`)
      }
    })

    it('refuses an unsecured JWT made by jose', async () => {
      const token = new UnsecuredJWT(claims()).encode()
      assert.ok(token.endsWith('.'))
      await assertInactive(token)
    })

    it('refuses the real header with the signature stripped', async () => {
      const [header, payload] = splitToken(genuine)
      await assertInactive(`${header}.${payload}.`)
      await assertInactive(`${header}.${payload}`)
    })
  })

  describe('algorithm confusion', () => {
    it('refuses HS256 signed with the server public key as the HMAC secret', async () => {
      const publicKey = createPublicKey({ key: serverJwk as JsonWebKey, format: 'jwk' })
      const pem = publicKey.export({ type: 'spki', format: 'pem' }).toString()
      const der = publicKey.export({ type: 'spki', format: 'der' })
      const secrets: Record<string, Uint8Array> = {
        'SPKI PEM': Buffer.from(pem),
        'SPKI PEM without trailing newline': Buffer.from(pem.trimEnd()),
        'SPKI DER': der,
        'JWK JSON': Buffer.from(JSON.stringify(serverJwk)),
        'JWKS JSON': Buffer.from(JSON.stringify(jwks)),
      }
      for (const [label, secret] of Object.entries(secrets)) {
        for (const alg of ['HS256', 'HS384', 'HS512'] as const) {
          const token = await new SignJWT(claims())
            .setProtectedHeader({ alg, typ: 'at+jwt', kid })
            .sign(secret)
          await assertInactive(token, `${alg} with ${label}`)
        }
      }
    })

    it('refuses a token whose alg names another asymmetric algorithm', async () => {
      const [, payload, signature] = splitToken(genuine)
      for (const alg of ['RS256', 'PS256', 'EdDSA', 'ES384', 'ES512', 'es256', 'ES256K']) {
        const header = segment({ alg, typ: 'at+jwt', kid })
        await assertInactive(`${header}.${payload}.${signature}`, alg)
      }
    })
  })

  describe('keys named by the token', () => {
    it('refuses an embedded jwk header carrying the attacker key', async () => {
      for (const headerKid of [undefined, attackerKid, kid]) {
        const header = { alg: 'ES256' as const, typ: 'at+jwt', jwk: attackerJwk, kid: headerKid }
        if (headerKid === undefined) delete header.kid
        const token = await new SignJWT(claims()).setProtectedHeader(header).sign(attackerPrivate)
        await assertInactive(token, `kid ${String(headerKid)}`)
      }
    })

    it('refuses jku and x5u headers and fetches nothing from them', async () => {
      let fetched = 0
      const attackerSite: Server = createServer((_req, res) => {
        fetched++
        res.setHeader('content-type', 'application/json')
        res.end(JSON.stringify({ keys: [{ ...attackerJwk, kid: attackerKid, alg: 'ES256' }] }))
      })
      await new Promise<void>((resolve) => attackerSite.listen(0, '127.0.0.1', resolve))
      try {
        const { port } = attackerSite.address() as AddressInfo
        const url = `http://127.0.0.1:${port}/keys`
        for (const parameter of ['jku', 'x5u']) {
          for (const headerKid of [attackerKid, kid]) {
            const token = await new SignJWT(claims())
              .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: headerKid, [parameter]: url })
              .sign(attackerPrivate)
            await assertInactive(token, `${parameter} with kid ${headerKid}`)
          }
        }
        // Give any fetch the server might have started in the background time to arrive.
        await sleep(300)
        assert.equal(fetched, 0)
      } finally {
        await new Promise<void>((resolve) => attackerSite.close(() => resolve()))
      }
    })

    it('refuses an x5c header carrying the attacker key', async () => {
      const spki = createPublicKey({ key: attackerJwk as JsonWebKey, format: 'jwk' }).export({
        type: 'spki',
        format: 'der',
      })
      const token = await new SignJWT(claims())
        .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: attackerKid, x5c: [b64u(spki)] })
        .sign(attackerPrivate)
      await assertInactive(token)
    })

    it('refuses a token signed by the attacker key under the server kid', async () => {
      const token = await new SignJWT(claims())
        .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid })
        .sign(attackerPrivate)
      await assertInactive(token)
    })
  })

  describe('kid', () => {
    it('refuses a kid that is a path, SQL, very long, or not a string, even when validly signed', async () => {
      const kids: Record<string, unknown> = {
        path: '../../etc/passwd',
        'absolute path': '/etc/passwd',
        'path with NUL': `${kid}\u0000../../etc/passwd`,
        SQL: "' OR 1=1 --",
        'SQL union': `${kid}' UNION SELECT private_key FROM signing_keys --`,
        '1 KB': 'a'.repeat(1024),
        '10 KB': 'a'.repeat(10 * 1024),
        number: 1,
        object: { kid },
        array: [kid],
        null: null,
        'empty string': '',
        'real kid with trailing space': `${kid} `,
      }
      for (const [label, value] of Object.entries(kids)) {
        await assertInactive(jws({ ...realHeader(), kid: value }, claims(), realKey), label)
      }
    })

    it('refuses a validly signed token with no kid', async () => {
      await assertInactive(jws({ alg: 'ES256', typ: 'at+jwt' }, claims(), realKey))
    })

    it('refuses a validly signed token with an unknown kid', async () => {
      const unknown = b64u(Buffer.alloc(32, 7))
      await assertInactive(jws({ ...realHeader(), kid: unknown }, claims(), realKey))
    })

    it('stays healthy after kid injection attempts', async () => {
      const res = await server.get('/healthz')
      assert.equal(res.status, 200)
    })
  })

  describe('header parameters', () => {
    it('refuses crit naming a registered claim, and malformed crit', async () => {
      const crits: Record<string, Record<string, unknown>> = {
        'crit [exp]': { crit: ['exp'] },
        'crit as a string': { crit: 'exp' },
        'empty crit': { crit: [] },
        'crit with an unknown extension': { crit: ['urn:example:ext'], 'urn:example:ext': true },
        'crit naming a parameter that is absent': { crit: ['b64'] },
        'crit of numbers': { crit: [1] },
      }
      for (const [label, extra] of Object.entries(crits)) {
        await assertInactive(jws({ ...realHeader(), ...extra }, claims(), realKey), label)
      }
    })

    it('refuses b64 false, unencoded or detached, and b64 false on an encoded payload', async () => {
      const header = { ...realHeader(), b64: false, crit: ['b64'] }
      const h = segment(header)
      const payloadText = JSON.stringify(claims())
      // RFC 7797: the signing input is the header segment, a dot and the payload bytes as they are.
      const signature = es256(`${h}.${payloadText}`, realKey)
      await assertInactive(`${h}.${payloadText}.${signature}`, 'unencoded payload')
      await assertInactive(`${h}..${signature}`, 'detached payload')
      await assertInactive(jws(header, claims(), realKey), 'b64 false with crit, encoded payload')
      await assertInactive(
        jws({ ...realHeader(), b64: false }, claims(), realKey),
        'b64 false without crit',
      )
      await assertInactive(
        jws({ ...realHeader(), b64: true }, claims(), realKey),
        'b64 true, a parameter outside the allow-list',
      )
    })

    it('refuses typ other than at+jwt', async () => {
      const types: Record<string, unknown> = {
        JWT: 'JWT',
        jwt: 'jwt',
        'application/jwt': 'application/jwt',
        'ID token style': 'id_token+jwt',
        'DPoP proof': 'dpop+jwt',
        'logout token': 'logout+jwt',
        'at+jwt with a suffix': 'at+jwt+evil',
        'at+jwt with a space': 'at+jwt ',
        'a number': 1,
        'an array': ['at+jwt'],
      }
      for (const [label, typ] of Object.entries(types)) {
        await assertInactive(jws({ ...realHeader(), typ }, claims(), realKey), label)
      }
      await assertInactive(jws({ alg: 'ES256', kid }, claims(), realKey), 'typ missing')
    })

    it('refuses other header parameters: cty, enc, zip, x5t', async () => {
      for (const extra of [{ cty: 'JWT' }, { enc: 'A256GCM' }, { zip: 'DEF' }, { x5t: 'AAAA' }]) {
        await assertInactive(
          jws({ ...realHeader(), ...extra }, claims(), realKey),
          JSON.stringify(extra),
        )
      }
    })

    it('refuses a header that is not a JSON object', async () => {
      const [, payload, signature] = splitToken(genuine)
      for (const header of ['[]', '"ES256"', 'null', '{', '{"alg":"ES256","alg":"none"']) {
        await assertInactive(`${b64u(header)}.${payload}.${signature}`, header)
      }
    })

    it('refuses a duplicated alg member whose last value is the real one', async () => {
      // Parsers disagree on duplicate members; a strict verifier need not pick one. Only the
      // outcome matters here: it must not be active unless the signature is over exactly this text.
      const headerText = `{"alg":"none","alg":"ES256","typ":"at+jwt","kid":"${kid}"}`
      const [, payload, signature] = splitToken(genuine)
      await assertInactive(`${b64u(headerText)}.${payload}.${signature}`)
    })
  })

  describe('tampering', () => {
    it('refuses a genuine token with a changed payload and its original signature', async () => {
      const [header, , signature] = splitToken(genuine)
      const changes: Record<string, unknown>[] = [
        { scope: 'read write admin' },
        { sub: 'root' },
        { client_id: 'api' },
        { exp: (genuineClaims.exp as number) + 86_400 },
        {},
      ]
      for (const change of changes) {
        // `{}` re-encodes the same claims with a different member order.
        const payload =
          Object.keys(change).length === 0
            ? segment(Object.fromEntries(Object.entries(genuineClaims).reverse()))
            : segment({ ...genuineClaims, ...change })
        await assertInactive(`${header}.${payload}.${signature}`, JSON.stringify(change))
      }
    })

    it('refuses a genuine token with flipped signature bits', async () => {
      const [header, payload, signature] = splitToken(genuine)
      const bytes = Buffer.from(signature, 'base64url')
      for (const position of [0, 1, 31, 32, 33, 63]) {
        const flipped = Buffer.from(bytes)
        flipped[position]! ^= 0x01
        await assertInactive(`${header}.${payload}.${b64u(flipped)}`, `byte ${position}`)
      }
    })

    it('refuses a genuine token with a truncated, extended or swapped signature', async () => {
      const [header, payload, signature] = splitToken(genuine)
      const bytes = Buffer.from(signature, 'base64url')
      const other = splitToken(await issue(app))[2]
      const signatures: Record<string, string> = {
        truncated: b64u(bytes.subarray(0, 63)),
        extended: b64u(Buffer.concat([bytes, Buffer.from([0])])),
        doubled: b64u(Buffer.concat([bytes, bytes])),
        "another token's": other,
      }
      for (const [label, s] of Object.entries(signatures)) {
        await assertInactive(`${header}.${payload}.${s}`, label)
      }
    })

    it('refuses ES256 signatures with r or s zero or at the group order', async () => {
      const [header, payload] = splitToken(genuine)
      const zero = Buffer.alloc(32)
      const one = Buffer.concat([Buffer.alloc(31), Buffer.from([1])])
      const signatures: Record<string, Buffer> = {
        'r = s = 0': Buffer.alloc(64),
        'r = s = n': Buffer.concat([P256_N, P256_N]),
        'r = 0, s = n': Buffer.concat([zero, P256_N]),
        'r = n, s = 1': Buffer.concat([P256_N, one]),
        'r = 1, s = 0': Buffer.concat([one, zero]),
        'r = s = 0xff…': Buffer.alloc(64, 0xff),
      }
      for (const [label, s] of Object.entries(signatures)) {
        await assertInactive(`${header}.${payload}.${b64u(s)}`, label)
      }
    })

    it('refuses a valid signature in DER encoding instead of r || s', async () => {
      const input = `${segment(realHeader())}.${segment(claims())}`
      const der = sign('sha256', Buffer.from(input), { key: realKey, dsaEncoding: 'der' })
      assert.equal(der[0], 0x30)
      await assertInactive(`${input}.${b64u(der)}`)
      // The same input with its r || s signature is active: only the encoding is at fault.
      await assertActive(`${input}.${es256(input, realKey)}`)
    })
  })

  describe('one token, one string', () => {
    /**
     * Tokens signed with the real key whose header and payload segments have every length mod 4
     * (JSON whitespace in the header, a claim of 0–2 characters in the payload), so that each segment
     * is tried with and without unused bits in its last character.
     */
    function tokensOfEveryLength(): string[] {
      return [0, 1, 2].map((k) => {
        const headerText = JSON.stringify(realHeader()).replace('{', `{${' '.repeat(k)}`)
        return jwsFromText(headerText, JSON.stringify(claims({ pad: 'x'.repeat(k) })), realKey)
      })
    }

    it('refuses a token with an unused bit set in the last character of any segment', async () => {
      const covered = new Set<string>()
      for (const token of [genuine, ...tokensOfEveryLength()]) {
        await assertActive(token, 'the canonical spelling')
        const parts = splitToken(token)
        for (const [i, name] of ['header', 'payload', 'signature'].entries()) {
          const changed = withUnusedBitSet(parts[i]!)
          if (changed === undefined) continue
          // The same bytes, another string.
          assert.ok(Buffer.from(changed, 'base64url').equals(Buffer.from(parts[i]!, 'base64url')))
          covered.add(`${name} ${unusedBits(parts[i]!)}`)
          const spelled = parts.map((part, k) => (k === i ? changed : part)).join('.')
          await assertInactive(spelled, `${name} of ${token.slice(0, 20)}`)
        }
      }
      // Both kinds of short last group (2 and 4 unused bits) were tried in the header and the payload.
      for (const name of ['header 2', 'header 4', 'payload 2', 'payload 4', 'signature 4']) {
        assert.ok(covered.has(name), name)
      }
    })

    it('refuses padding, standard base64, a space or a dangling character in a genuine token', async () => {
      const [header, payload, signature] = splitToken(genuine)
      const std = Buffer.from(signature, 'base64url').toString('base64')
      const tokens: Record<string, string> = {
        'padded signature': `${header}.${payload}.${signature}==`,
        'padded header': `${header}=.${payload}.${signature}`,
        'standard base64 signature': `${header}.${payload}.${std}`,
        'trailing space': `${genuine} `,
        'a fifth character in the last group': `${header}.${payload}.${signature}A`,
      }
      for (const [label, token] of Object.entries(tokens)) await assertInactive(token, label)
    })

    it('refuses the n − s twin of a genuine ES256 signature, which is itself valid', async () => {
      const [header, payload, signature] = splitToken(genuine)
      const twin = ecdsaTwin(Buffer.from(signature, 'base64url'))
      // The twin is a valid signature of the same input: only the rule "low S" tells them apart.
      const publicKey = createPublicKey({ key: serverJwk as JsonWebKey, format: 'jwk' })
      assert.ok(
        verify(
          'sha256',
          Buffer.from(`${header}.${payload}`),
          { key: publicKey, dsaEncoding: 'ieee-p1363' },
          twin,
        ),
      )
      await assertInactive(withTwinSignature(genuine))
      await assertActive(genuine)
    })

    it('issues only low-S ES256 signatures, each of which jose verifies', async () => {
      const keySet = createLocalJWKSet(jwks)
      const tokens = await Promise.all(Array.from({ length: 40 }, () => issue(app)))
      for (const token of tokens) {
        const signature = Buffer.from(splitToken(token)[2], 'base64url')
        assert.ok(isLowS(signature), 'low S')
        await jwtVerify(token, keySet, { issuer: server.url, typ: 'at+jwt' })
      }
    })

    it('refuses an opaque token with an unused bit set in its last character', async () => {
      const token = await issue(opaque)
      assert.equal(token.length, 43)
      const spelled = withUnusedBitSet(token)
      assert.ok(
        spelled !== undefined &&
          Buffer.from(spelled, 'base64url').equals(Buffer.from(token, 'base64url')),
      )
      await assertActive(token)
      await assertInactive(spelled)
    })
  })

  describe('token shape', () => {
    it('refuses five-part, four-part, two-part and one-part tokens', async () => {
      const [header, payload, signature] = splitToken(genuine)
      const jweHeader = segment({ alg: 'RSA-OAEP-256', enc: 'A256GCM', kid, typ: 'at+jwt' })
      const random = (n: number): string => b64u(Buffer.alloc(n, 0x5a))
      const tokens: Record<string, string> = {
        'JWE-shaped': `${jweHeader}.${random(256)}.${random(12)}.${random(300)}.${random(16)}`,
        'five parts from the genuine token': `${header}.${payload}.${signature}.${payload}.${signature}`,
        'four parts': `${genuine}.${signature}`,
        'two parts': `${header}.${payload}`,
        'one part': header,
        'trailing dot': `${genuine}.`,
        'leading dot': `.${genuine}`,
        'only dots': '....',
      }
      for (const [label, token] of Object.entries(tokens)) {
        await assertInactive(token, label)
      }
    })

    it('refuses segments that are not base64url', async () => {
      const [header, payload, signature] = splitToken(genuine)
      const tokens: Record<string, string> = {
        'standard base64 signature': `${header}.${payload}.${Buffer.from(signature, 'base64url').toString('base64')}`,
        'padded payload': `${header}.${payload}==.${signature}`,
        'space in the payload': `${header}.${payload.slice(0, 10)} ${payload.slice(10)}.${signature}`,
      }
      for (const [label, token] of Object.entries(tokens)) {
        await assertInactive(token, label)
      }
    })

    it('refuses a nested token: a JWT as the payload, validly signed', async () => {
      const nestedBytes = `${segment({ ...realHeader(), cty: 'JWT' })}.${b64u(genuine)}`
      await assertInactive(`${nestedBytes}.${es256(nestedBytes, realKey)}`, 'with cty JWT')
      const bare = `${segment(realHeader())}.${b64u(genuine)}`
      await assertInactive(`${bare}.${es256(bare, realKey)}`, 'without cty')
      await assertInactive(jws(realHeader(), genuine, realKey), 'as a JSON string')
    })

    it('refuses a payload that is not a JSON object, validly signed', async () => {
      for (const payload of ['[]', 'null', '42', '"claims"', '{"iss":']) {
        await assertInactive(jwsFromText(JSON.stringify(realHeader()), payload, realKey), payload)
      }
    })
  })

  describe('claims, validly signed', () => {
    it('refuses a wrong, missing or malformed iss', async () => {
      const issuers: Record<string, unknown> = {
        'another issuer': 'https://evil.example',
        'the issuer with a trailing slash': `${server.url}/`,
        'the issuer over https': server.url.replace('http:', 'https:'),
        'localhost for 127.0.0.1': server.url.replace('127.0.0.1', 'localhost'),
        'an array': [server.url],
        missing: undefined,
      }
      for (const [label, iss] of Object.entries(issuers)) {
        await assertInactive(jws(realHeader(), claims({ iss }), realKey), label)
      }
    })

    // Introspection takes any audience (RFC 7662: the resource server checks its own), so a wrong
    // aud is not refused here; a missing or malformed one is.
    it('refuses a missing or malformed aud', async () => {
      for (const aud of [undefined, 42, [], [42], null, { aud: server.url }]) {
        await assertInactive(
          jws(realHeader(), claims({ aud }), realKey),
          `aud ${JSON.stringify(aud)}`,
        )
      }
    })

    it('refuses a token missing sub, jti or client_id', async () => {
      for (const name of ['sub', 'jti', 'client_id']) {
        await assertInactive(jws(realHeader(), claims({ [name]: undefined }), realKey), name)
        await assertInactive(jws(realHeader(), claims({ [name]: 7 }), realKey), `${name} number`)
      }
    })

    it('refuses exp that is a string, 1e308, 1e400, negative, null or missing', async () => {
      const future = nowSeconds() + 300
      for (const expText of [
        `"${future}"`,
        '"9999999999"',
        '1e308',
        '1e400',
        '-1',
        'null',
        'true',
        `[${future}]`,
      ]) {
        const token = jwsFromText(JSON.stringify(realHeader()), claimsTextWithExp(expText), realKey)
        await assertInactive(token, `exp ${expText}`)
      }
      await assertInactive(jws(realHeader(), claims({ exp: undefined }), realKey), 'exp missing')
    })

    it('refuses an expired token, iat in the future and nbf in the future', async () => {
      const now = nowSeconds()
      await assertInactive(
        jws(realHeader(), claims({ exp: now - LEEWAY - 60, iat: now - 600 }), realKey),
        'expired',
      )
      await assertInactive(
        jws(realHeader(), claims({ iat: now + 3600, exp: now + 7200 }), realKey),
        'iat in the future',
      )
      await assertInactive(jws(realHeader(), claims({ nbf: now + 3600 }), realKey), 'nbf')
      await assertInactive(jws(realHeader(), claims({ iat: '0' }), realKey), 'iat a string')
    })

    it('refuses scope or sid that is not a string', async () => {
      await assertInactive(jws(realHeader(), claims({ scope: ['read'] }), realKey), 'scope')
      await assertInactive(jws(realHeader(), claims({ sid: 1 }), realKey), 'sid')
    })
  })

  describe('bounded work', () => {
    it('answers a five-part token with a 100 KB body quickly', async () => {
      const part = b64u(Buffer.alloc(15_000, 0x41))
      const token = [part, part, part, part, part].join('.')
      assert.ok(token.length > 100_000)
      const started = performance.now()
      const res = await introspect(token)
      const elapsed = performance.now() - started
      if (res.status === 413) {
        assert.equal((res.json as { error?: unknown }).error, 'invalid_request')
      } else {
        assert.equal(res.status, 200)
        assert.deepEqual(res.json, { active: false })
      }
      assert.ok(elapsed < 2000, `answered in ${Math.round(elapsed)} ms`)
    })

    it('refuses a 9 KB token even when validly signed', async () => {
      const token = jws(realHeader(), claims({ padding: 'x'.repeat(7000) }), realKey)
      assert.ok(token.length > 9000 && token.length < 12_000)
      const started = performance.now()
      await assertInactive(token)
      assert.ok(performance.now() - started < 2000)
    })

    it('stays healthy after every forgery', async () => {
      const res = await server.get('/healthz')
      assert.equal(res.status, 200)
    })
  })

  describe('expiry in real time', () => {
    it('reports a genuine one-second token inactive once its exp has passed', async () => {
      const token = await issue(shortLived)
      const { exp } = decodeJwt(token)
      assert.equal(typeof exp, 'number')
      // Control: when the whole request finished before exp, the token must have been active.
      const res = await introspect(token)
      if (Date.now() < exp! * 1000) assert.equal((res.json as { active?: unknown }).active, true)
      // The issuer checks its own tokens against its own clock; wait past exp, within a bound.
      const waitMs = exp! * 1000 - Date.now() + 1200
      assert.ok(waitMs < 2500)
      if (waitMs > 0) await sleep(waitMs)
      await assertInactive(token)
    })
  })

  describe('server log', () => {
    it('recorded no 5xx response for any forged token', () => {
      const statuses = server
        .output()
        .split('\n')
        .filter((line) => line.startsWith('{'))
        .map((line) => (JSON.parse(line) as { status?: unknown }).status)
      assert.ok(statuses.length > 0)
      assert.deepEqual(
        statuses.filter((s) => typeof s === 'number' && s >= 500),
        [],
      )
    })
  })
})
