/**
 * The metadata (RFC 8414) and the OpenID provider configuration (OpenID Connect Discovery 1.0 §3) tell
 * the truth: every `*_supported` list is what the endpoints do, found by trying each listed value and
 * the usual unlisted ones against the running server.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { randomUUID } from 'node:crypto'
import { createServer } from 'node:http'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import {
  createLocalJWKSet,
  decodeJwt,
  decodeProtectedHeader,
  exportJWK,
  generateKeyPair,
  generateSecret,
  jwtVerify,
  SignJWT,
  type CryptoKey,
  type JSONWebKeySet,
} from 'jose'
import {
  authorize,
  authorizeQuery,
  Browser,
  formAction,
  formFields,
  pkce,
} from '../helpers/browser.js'
import { signIn as signInSession } from '../helpers/logout.js'
import {
  basic,
  cli,
  createClient,
  createUser,
  request,
  sleep,
  startServer,
  type CreatedClient,
  type HttpResponse,
  type TestServer,
} from '../helpers/server.js'

const REDIRECT = 'https://app.example/callback'
const USER = { username: 'alice', password: 'correct horse battery' }
/** A user with a whole profile, for the claims. */
const CAROL = { username: 'carol', password: 'carol horse battery' }

/**
 * Every `*_supported` and `require_*` field this test checks against behaviour; a new one needs a
 * check here.
 */
const CHECKED = [
  'token_endpoint_auth_methods_supported',
  'introspection_endpoint_auth_methods_supported',
  'revocation_endpoint_auth_methods_supported',
  'grant_types_supported',
  'response_types_supported',
  'response_modes_supported',
  'code_challenge_methods_supported',
  'authorization_response_iss_parameter_supported',
  'introspection_signing_alg_values_supported',
  'dpop_signing_alg_values_supported',
  'require_pushed_authorization_requests',
  'token_endpoint_auth_signing_alg_values_supported',
  'introspection_endpoint_auth_signing_alg_values_supported',
  'revocation_endpoint_auth_signing_alg_values_supported',
  'prompt_values_supported',
  'backchannel_logout_supported',
  'backchannel_logout_session_supported',
  'frontchannel_logout_supported',
  // OpenID Connect Discovery 1.0 §3, in /.well-known/openid-configuration only
  'scopes_supported',
  'subject_types_supported',
  'id_token_signing_alg_values_supported',
  'claims_supported',
  'claims_parameter_supported',
  'request_parameter_supported',
]

const ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer'
/** What a private_key_jwt assertion could be signed with: asymmetric ones, and what must be refused. */
const ASSERTION_ALGS = [
  ...['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'],
  ...['HS256', 'HS384', 'HS512', 'none'],
]
const HMAC = /^HS/

const AUTH_METHODS = [
  'client_secret_basic',
  'client_secret_post',
  'none',
  'client_secret_jwt',
  'private_key_jwt',
]

const sorted = (values: Iterable<string>): string[] => [...values].sort()

describe('authorization server metadata', () => {
  let server: TestServer
  let md: Record<string, unknown>
  /** The OpenID provider configuration, as served at the start. */
  let oidc: Record<string, unknown>
  let conf: CreatedClient
  /** A confidential client allowed the OpenID scopes. */
  let rp: CreatedClient
  let carolId: string
  const PUBLIC = 'spa'
  /** A third-party client: the one that shows a consent page. */
  const THIRD = 'third'
  /** The private_key_jwt client, with one key (kid = alg) of each asymmetric candidate algorithm. */
  const SIGNED = 'signed'
  const assertionKeys = new Map<string, CryptoKey>()

  before(async () => {
    server = await startServer()
    const grants = ['--grant', 'authorization_code', '--grant', 'refresh_token']
    conf = createClient(
      server.db,
      'conf',
      ...grants,
      ...['--grant', 'client_credentials', '--redirect-uri', REDIRECT],
    )
    const spa = cli([
      ...['client', 'create', '--db', server.db, '--id', PUBLIC, '--public', ...grants],
      ...['--redirect-uri', REDIRECT],
    ])
    assert.equal(spa.status, 0, spa.stderr)
    createUser(server.db, USER)
    createClient(
      server.db,
      THIRD,
      ...['--grant', 'authorization_code', '--redirect-uri', REDIRECT, '--third-party'],
    )
    rp = createClient(
      server.db,
      'rp',
      ...['--grant', 'authorization_code', '--redirect-uri', REDIRECT],
      ...['--scope', 'openid profile email'],
    )
    const carol = cli(
      [
        ...['user', 'create', '--db', server.db, '--username', CAROL.username],
        ...['--email', 'carol@example.com', '--email-verified', '--name', 'Carol C'],
        ...['--given-name', 'Carol', '--family-name', 'C'],
      ],
      { input: CAROL.password + '\n' },
    )
    assert.equal(carol.status, 0, carol.stderr)
    carolId = (carol.json as { id: string }).id
    const jwks: unknown[] = []
    for (const alg of ASSERTION_ALGS.filter((a) => !HMAC.test(a) && a !== 'none')) {
      const pair = await generateKeyPair(alg, { extractable: true })
      assertionKeys.set(alg, pair.privateKey)
      jwks.push({ ...(await exportJWK(pair.publicKey)), kid: alg, alg })
    }
    const file = join(server.dir, 'assertion-keys.json')
    writeFileSync(file, JSON.stringify({ keys: jwks }))
    createClient(
      server.db,
      SIGNED,
      ...['--grant', 'client_credentials', '--resource-server', '--auth-method', 'private_key_jwt'],
      ...['--jwks-file', file],
    )
    md = (await server.get('/.well-known/oauth-authorization-server')).json
    oidc = (await server.get('/.well-known/openid-configuration')).json
  })
  after(() => server.dispose())

  const listed = (name: string): string[] => {
    const value = md[name]
    assert.ok(Array.isArray(value), `${name} is listed`)
    return value as string[]
  }

  /**
   * A fresh assertion of `SIGNED` to the issuer signed with `alg`: by its own key, by a random HMAC
   * secret (it has no other), or unsigned for `none`.
   */
  async function signedAssertion(alg: string): Promise<string> {
    const t = Math.floor(Date.now() / 1000)
    const claims = { iss: SIGNED, sub: SIGNED, aud: md.issuer as string, jti: randomUUID() }
    const jwt = new SignJWT({ ...claims, iat: t, exp: t + 60 })
    if (alg === 'none') {
      const part = (v: unknown): string => Buffer.from(JSON.stringify(v)).toString('base64url')
      return `${part({ alg })}.${part({ ...claims, iat: t, exp: t + 60 })}.`
    }
    const key = assertionKeys.get(alg) ?? new TextEncoder().encode(randomUUID() + randomUUID())
    return jwt.setProtectedHeader({ alg, kid: alg }).sign(key)
  }

  /** POSTs `form` to `path`, the client authenticating with `method`. */
  async function withMethod(
    path: string,
    method: string,
    form: Record<string, string>,
  ): Promise<HttpResponse> {
    const headers: Record<string, string> = {
      'content-type': 'application/x-www-form-urlencoded',
    }
    const body: Record<string, string> = { ...form }
    switch (method) {
      case 'client_secret_basic':
        headers.authorization = basic(conf.client_id, conf.client_secret)
        break
      case 'client_secret_post':
        Object.assign(body, { client_id: conf.client_id, client_secret: conf.client_secret })
        break
      case 'none':
        body.client_id = PUBLIC
        break
      case 'private_key_jwt':
        Object.assign(body, {
          client_assertion_type: ASSERTION_TYPE,
          client_assertion: await signedAssertion('ES256'),
        })
        break
      default:
        // A JWT assertion (RFC 7523 §2.2); not a valid one, but a server that takes the method
        // would answer invalid_client for the signature, not ignore the assertion.
        Object.assign(body, {
          client_id: conf.client_id,
          client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
          client_assertion: 'eyJhbGciOiJFUzI1NiJ9.e30.AA',
        })
    }
    return request(server.url + path, {
      method: 'POST',
      headers,
      body: new URLSearchParams(body).toString(),
    })
  }

  /** The methods each endpoint accepts, tried with a request that gets past authentication. */
  async function accepted(path: string, form: Record<string, string>): Promise<string[]> {
    const out: string[] = []
    for (const method of AUTH_METHODS) {
      const res = await withMethod(path, method, form)
      if (res.status !== 401 && res.json.error !== 'invalid_client') out.push(method)
    }
    return out
  }

  it('lists exactly the client authentication methods each endpoint accepts, none included', async () => {
    for (const name of CHECKED.filter((n) => n.endsWith('_auth_methods_supported'))) {
      for (const method of listed(name)) assert.ok(AUTH_METHODS.includes(method), method)
    }
    const token = await accepted('/token', { grant_type: 'refresh_token', refresh_token: 'x' })
    assert.deepEqual(sorted(listed('token_endpoint_auth_methods_supported')), sorted(token))
    assert.ok(token.includes('none'), 'a public client authenticates at the token endpoint')
    const introspection = await accepted('/introspect', { token: 'x' })
    assert.deepEqual(
      sorted(listed('introspection_endpoint_auth_methods_supported')),
      sorted(introspection),
    )
    const revocation = await accepted('/revoke', { token: 'x' })
    assert.deepEqual(
      sorted(listed('revocation_endpoint_auth_methods_supported')),
      sorted(revocation),
    )
  })

  it('accepts pushed requests with exactly the token endpoint methods, and requires none by default', async () => {
    // RFC 9126 §2: the PAR endpoint authenticates clients as the token endpoint does.
    assert.equal(md.pushed_authorization_request_endpoint, `${md.issuer as string}/par`)
    const pushed = await accepted('/par', {
      response_type: 'code',
      redirect_uri: REDIRECT,
      code_challenge: pkce().challenge,
      code_challenge_method: 'S256',
    })
    assert.deepEqual(sorted(pushed), sorted(listed('token_endpoint_auth_methods_supported')))
    // RFC 9126 §5: false, so a client registered without --require-par is served without a push.
    assert.equal(md.require_pushed_authorization_requests, false)
    const page = await request(
      server.url +
        authorizeQuery({
          clientId: conf.client_id,
          redirectUri: REDIRECT,
          challenge: pkce().challenge,
        }),
    )
    assert.equal(page.status, 200)
  })

  it('lets a public client redeem its code with none at the token endpoint', async () => {
    const p = pkce()
    const landed = await authorize(
      new Browser(server.url),
      { clientId: PUBLIC, redirectUri: REDIRECT, challenge: p.challenge },
      USER,
    )
    const res = await withMethod('/token', 'none', {
      grant_type: 'authorization_code',
      code: landed.searchParams.get('code') ?? '',
      redirect_uri: REDIRECT,
      code_verifier: p.verifier,
    })
    assert.equal(res.status, 200, res.text)
    assert.equal(typeof res.json.access_token, 'string')
  })

  it('lists exactly the grant types the token endpoint knows', async () => {
    const candidates = new Set([
      ...listed('grant_types_supported'),
      'authorization_code',
      'client_credentials',
      'refresh_token',
      'password',
      'implicit',
      'urn:ietf:params:oauth:grant-type:device_code',
      'urn:ietf:params:oauth:grant-type:jwt-bearer',
      'urn:ietf:params:oauth:grant-type:token-exchange',
      'urn:ietf:params:oauth:grant-type:saml2-bearer',
    ])
    const known: string[] = []
    for (const grant of candidates) {
      const res = await withMethod('/token', 'client_secret_basic', { grant_type: grant })
      if (res.json.error !== 'unsupported_grant_type') known.push(grant)
    }
    assert.deepEqual(sorted(listed('grant_types_supported')), sorted(known))
  })

  /** GET /authorize for `conf` with `extra` parameters, as a browser that is not logged in. */
  async function authorizeWith(extra: Record<string, string>): Promise<HttpResponse> {
    const p = pkce()
    const query = authorizeQuery({
      clientId: conf.client_id,
      redirectUri: REDIRECT,
      challenge: p.challenge,
    })
    const url = new URL(server.url + query)
    for (const [k, v] of Object.entries(extra)) url.searchParams.set(k, v)
    return request(url.href)
  }
  const errorOf = (res: HttpResponse): string | null =>
    res.headers.location ? new URL(res.headers.location).searchParams.get('error') : null

  it('lists exactly the response types and PKCE methods the authorization endpoint takes', async () => {
    const types: string[] = []
    for (const type of ['code', 'token', 'id_token', 'code id_token', 'code token', 'none']) {
      const res = await authorizeWith({ response_type: type })
      if (res.status === 200) types.push(type)
      else assert.equal(errorOf(res), 'unsupported_response_type', type)
    }
    assert.deepEqual(sorted(listed('response_types_supported')), sorted(types))

    const methods: string[] = []
    for (const method of ['S256', 'plain']) {
      const res = await authorizeWith({ code_challenge_method: method })
      if (res.status === 200) methods.push(method)
      else assert.equal(errorOf(res), 'invalid_request', method)
    }
    assert.deepEqual(sorted(listed('code_challenge_methods_supported')), sorted(methods))
  })

  it('lists exactly the prompt values the authorization endpoint acts on, each doing what it says', async () => {
    // Without a login, prompt=none answers login_required, never a page.
    assert.equal(errorOf(await authorizeWith({ prompt: 'none' })), 'login_required')
    const browser = new Browser(server.url)
    const first = { clientId: conf.client_id, redirectUri: REDIRECT, challenge: pkce().challenge }
    const third = { ...first, clientId: THIRD }
    await authorize(browser, first, USER) // a live login
    // The third-party client's consent, given once (remembered from then on).
    const asked = await browser.get(authorizeQuery(third))
    assert.equal(asked.status, 200)
    const given = await browser.postForm(formAction(asked.text)!, formFields(asked.text))
    assert.ok(given.headers.location?.includes('code='))
    const codeAt = (res: HttpResponse): boolean =>
      res.status === 303 && new URL(res.headers.location!).searchParams.has('code')
    const acted: string[] = []
    for (const value of ['none', 'login', 'consent', 'select_account', 'create', 'Login']) {
      const withPrompt = async (p: typeof first): Promise<HttpResponse> =>
        browser.get(`${authorizeQuery(p)}&prompt=${value}`)
      const res = await withPrompt(third)
      if (errorOf(res) === 'invalid_request') continue
      acted.push(value)
      if (value === 'none') assert.ok(codeAt(res), 'none: a code, no page, for a live login')
      else if (value === 'consent') {
        assert.equal(res.status, 200)
        assert.ok(
          !/name="password"/.test(res.text),
          'consent: the consent page, not the login form',
        )
      } else {
        // login, select_account: the login form, even for a live login.
        assert.equal(res.status, 200, value)
        assert.match(res.text, /name="password"/, value)
      }
    }
    assert.deepEqual(sorted(listed('prompt_values_supported')), sorted(acted))
  })

  it('lists exactly the response modes in which the code comes back, and sends iss as it says', async () => {
    const browser = new Browser(server.url)
    const p = pkce()
    const params = { clientId: conf.client_id, redirectUri: REDIRECT, challenge: p.challenge }
    await authorize(browser, params, USER) // logged in: the next requests redirect at once
    const modes: string[] = []
    for (const mode of ['query', 'fragment', 'form_post']) {
      const res = await browser.get(`${authorizeQuery(params)}&response_mode=${mode}`)
      const location = res.headers.location
      if (location === undefined) continue
      const url = new URL(location)
      const fragment = new URLSearchParams(url.hash.slice(1))
      if (mode === 'query' && url.searchParams.has('code')) modes.push(mode)
      if (mode === 'fragment' && fragment.has('code')) modes.push(mode)
      if (mode === 'query') {
        assert.equal(md.authorization_response_iss_parameter_supported, true)
        assert.equal(url.searchParams.get('iss'), md.issuer)
      }
    }
    // RFC 8414 §2: an absent list means ["query", "fragment"], which would not be true.
    assert.deepEqual(sorted(listed('response_modes_supported')), sorted(modes))
  })

  /** An RFC 9701 introspection response for `conf` from `node`, and the alg it is signed with. */
  async function signedIntrospection(node: TestServer): Promise<{ jwt: string; alg: string }> {
    const res = await request(node.url + '/introspect', {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        accept: 'application/token-introspection+jwt',
        authorization: basic(conf.client_id, conf.client_secret),
      },
      body: new URLSearchParams({ token: 'x' }).toString(),
    })
    assert.equal(res.status, 200, res.text)
    assert.equal(res.headers['content-type'], 'application/token-introspection+jwt')
    return { jwt: res.text, alg: decodeProtectedHeader(res.text).alg ?? '' }
  }

  it('lists exactly the algorithms introspection responses are signed with, each verifiable with the JWKS', async () => {
    const candidates = new Set([
      ...listed('introspection_signing_alg_values_supported'),
      ...['ES256', 'RS256', 'PS256', 'EdDSA', 'HS256', 'ES384', 'ES512', 'RS512', 'none'],
    ])
    const signed: string[] = []
    for (const alg of candidates) {
      // A response is signed by the access-token key, of the signing-alg setting: a node of this
      // database set to `alg`, if a server can be.
      let node: TestServer
      try {
        node = await startServer({
          db: server.db,
          dir: server.dir,
          env: { LATCHKEY_SIGNING_ALG: alg },
        })
      } catch {
        continue
      }
      try {
        const response = await signedIntrospection(node)
        assert.equal(response.alg, alg, `a node set to ${alg} signs with it`)
        const jwks = (await node.get('/.well-known/jwks.json')).json as unknown as JSONWebKeySet
        const { payload } = await jwtVerify(response.jwt, createLocalJWKSet(jwks), {
          typ: 'token-introspection+jwt',
          issuer: node.url,
          audience: conf.client_id,
          algorithms: listed('introspection_signing_alg_values_supported'),
        })
        assert.deepEqual(payload.token_introspection, { active: false })
        signed.push(alg)
      } finally {
        await node.dispose()
      }
    }
    assert.deepEqual(sorted(listed('introspection_signing_alg_values_supported')), sorted(signed))
  })

  it('lists exactly the algorithms a DPoP proof may be signed with at the token endpoint', async () => {
    const accepted: string[] = []
    const candidates = new Set([...listed('dpop_signing_alg_values_supported'), ...ASSERTION_ALGS])
    for (const alg of candidates) {
      const payload = { jti: randomUUID(), htm: 'POST', htu: `${server.url}/token` }
      let proof: string
      if (alg === 'none') {
        const { publicKey } = await generateKeyPair('ES256')
        const header = { alg, typ: 'dpop+jwt', jwk: await exportJWK(publicKey) }
        const now = Math.floor(Date.now() / 1000)
        proof = `${Buffer.from(JSON.stringify(header)).toString('base64url')}.${Buffer.from(
          JSON.stringify({ ...payload, iat: now }),
        ).toString('base64url')}.`
      } else {
        const pair = HMAC.test(alg)
          ? { privateKey: await generateSecret(alg, { extractable: true }), publicKey: undefined }
          : await generateKeyPair(alg, { extractable: true })
        const jwk = await exportJWK(pair.publicKey ?? pair.privateKey)
        proof = await new SignJWT(payload)
          .setProtectedHeader({ alg, typ: 'dpop+jwt', jwk })
          .setIssuedAt()
          .sign(pair.privateKey)
      }
      const res = await request(`${server.url}/token`, {
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          authorization: basic(conf.client_id, conf.client_secret),
          dpop: proof,
        },
        body: new URLSearchParams({ grant_type: 'client_credentials' }).toString(),
      })
      if (res.status === 200) {
        assert.equal(res.json.token_type, 'DPoP', alg)
        accepted.push(alg)
      } else {
        assert.equal(res.json.error, 'invalid_dpop_proof', `${alg}: ${res.text}`)
      }
    }
    assert.deepEqual(sorted(listed('dpop_signing_alg_values_supported')), sorted(accepted))
  })

  it('lists exactly the algorithms a private_key_jwt assertion may be signed with, at each endpoint', async () => {
    const endpoints: [string, string, Record<string, string>][] = [
      [
        'token_endpoint_auth_signing_alg_values_supported',
        '/token',
        { grant_type: 'client_credentials' },
      ],
      ['introspection_endpoint_auth_signing_alg_values_supported', '/introspect', { token: 'x' }],
      ['revocation_endpoint_auth_signing_alg_values_supported', '/revoke', { token: 'x' }],
    ]
    // Each refusal from its own address: the failure throttle is not what this test is about.
    let address = 0
    for (const [field, path, form] of endpoints) {
      const taken: string[] = []
      for (const alg of new Set([...listed(field), ...ASSERTION_ALGS])) {
        const res = await request(server.url + path, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({
            ...form,
            client_assertion_type: ASSERTION_TYPE,
            client_assertion: await signedAssertion(alg),
          }).toString(),
          localAddress: `127.0.3.${++address}`,
        })
        if (res.status === 200) taken.push(alg)
        else assert.equal(res.json.error, 'invalid_client', `${path} ${alg}: ${res.text}`)
      }
      assert.deepEqual(sorted(listed(field)), sorted(taken), field)
    }
  })

  it('says what logout does: back-channel logout tokens with sid, no front-channel logout', async () => {
    assert.equal(md.end_session_endpoint, `${md.issuer as string}/logout`)
    // A receiver on loopback, registered as a client's back-channel logout URI.
    const tokens: string[] = []
    const receiver = createServer((req, res) => {
      const chunks: Buffer[] = []
      req.on('data', (c: Buffer) => chunks.push(c))
      req.on('end', () => {
        const token = new URLSearchParams(Buffer.concat(chunks).toString()).get('logout_token')
        if (token !== null) tokens.push(token)
        res.writeHead(200).end()
      })
    })
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve))
    try {
      const address = receiver.address()
      const port = typeof address === 'object' && address ? address.port : 0
      const bc = createClient(
        server.db,
        'bc',
        ...['--grant', 'authorization_code', '--scope', 'openid', '--redirect-uri', REDIRECT],
        ...['--backchannel-logout-uri', `http://127.0.0.1:${port}/bc`],
      )
      const s = await signInSession(server, bc, REDIRECT, USER)
      const revoked = cli(['session', 'revoke', '--db', server.db, '--id', s.sid])
      assert.equal(revoked.status, 0, revoked.stderr)
      const deadline = Date.now() + 5000
      while (tokens.length === 0 && Date.now() < deadline) await sleep(20)
      assert.equal(md.backchannel_logout_supported, tokens.length > 0)
      // §2.1: backchannel_logout_session_supported means the tokens carry `sid`.
      assert.equal(md.backchannel_logout_session_supported, decodeJwt(tokens[0]!).sid === s.sid)
    } finally {
      receiver.close()
    }
    // No front-channel logout: nothing to register, and the logout pages load no frame.
    const front = cli([
      ...['client', 'create', '--db', server.db, '--id', 'fc', '--grant', 'client_credentials'],
      ...['--frontchannel-logout-uri', 'https://app.example/fc'],
    ])
    assert.notEqual(front.status, 0)
    const page = await server.get('/logout')
    assert.equal(page.status, 200, page.text)
    assert.doesNotMatch(page.text, /<iframe/i)
    assert.match(String(page.headers['content-security-policy']), /default-src 'none'/)
    assert.equal(md.frontchannel_logout_supported, false)
  })

  /** Signs `user` in at `client` with `scope` (and `extra` parameters): the token response. */
  async function signIn(
    client: CreatedClient,
    user: { username: string; password: string },
    scope: string,
    extra: Record<string, string> = {},
  ): Promise<Record<string, unknown>> {
    const p = pkce()
    const landed = await authorize(
      new Browser(server.url),
      { clientId: client.client_id, redirectUri: REDIRECT, challenge: p.challenge, scope, extra },
      user,
    )
    const code = landed.searchParams.get('code')
    assert.ok(code, landed.href)
    const res = await server.post(
      '/token',
      { grant_type: 'authorization_code', code, code_verifier: p.verifier, redirect_uri: REDIRECT },
      [client.client_id, client.client_secret],
    )
    assert.equal(res.status, 200, res.text)
    return res.json
  }

  const listedOidc = (name: string): string[] => {
    const value = oidc[name]
    assert.ok(Array.isArray(value), `${name} is listed`)
    return value as string[]
  }

  it('lists the OpenID scopes, each granted to a client registered with it and doing what it says', async () => {
    for (const scope of listedOidc('scopes_supported')) {
      const asked = scope === 'openid' ? 'openid' : `openid ${scope}`
      const tokens = await signIn(rp, CAROL, asked)
      assert.equal(tokens.scope, asked)
      assert.equal(typeof tokens.id_token, 'string', `${asked}: an ID token`)
      const info = await request(`${server.url}/userinfo`, {
        headers: { authorization: `Bearer ${String(tokens.access_token)}` },
      })
      assert.equal(info.status, 200, info.text)
      if (scope === 'profile') assert.equal(info.json.name, 'Carol C')
      if (scope === 'email') assert.equal(info.json.email, 'carol@example.com')
    }
    assert.deepEqual(sorted(listedOidc('scopes_supported')), ['email', 'openid', 'profile'])
  })

  it('lists public subjects only: one user has one sub at every client, their user id', async () => {
    const other = createClient(
      server.db,
      'rp-other',
      ...['--grant', 'authorization_code', '--redirect-uri', REDIRECT, '--scope', 'openid'],
    )
    const subs = new Set<unknown>()
    for (const client of [rp, other]) {
      subs.add(decodeJwt(String((await signIn(client, CAROL, 'openid')).id_token)).sub)
    }
    assert.deepEqual([...subs], [carolId])
    assert.deepEqual(listedOidc('subject_types_supported'), ['public'])
  })

  it('lists exactly the algorithms ID tokens can be signed with: those a client may register, each verifiable', async () => {
    const candidates = ['ES256', 'RS256', 'PS256', 'EdDSA', 'HS256', 'ES384', 'none']
    const registrable: string[] = []
    for (const alg of candidates) {
      const created = cli([
        ...['client', 'create', '--db', server.db, '--id', `rp-${alg}`],
        ...['--grant', 'authorization_code', '--redirect-uri', REDIRECT, '--scope', 'openid'],
        ...['--id-token-signed-response-alg', alg],
      ])
      if (created.status !== 0) continue
      registrable.push(alg)
      const client = created.json as CreatedClient
      const idToken = String((await signIn(client, CAROL, 'openid')).id_token)
      assert.equal(decodeProtectedHeader(idToken).alg, alg)
      const jwks = (await server.get('/.well-known/jwks.json')).json as unknown as JSONWebKeySet
      await jwtVerify(idToken, createLocalJWKSet(jwks), {
        issuer: md.issuer as string,
        audience: client.client_id,
        algorithms: [alg],
      })
    }
    // The document lists the algs with a key signing now; other tests' nodes may have added keys
    // of other algs to the database, which the server sees on its next key reload (every second).
    let listedAlgs: string[] = []
    for (let i = 0; i < 100; i++) {
      const doc = (await server.get('/.well-known/openid-configuration')).json
      listedAlgs = sorted(doc.id_token_signing_alg_values_supported as string[])
      if (listedAlgs.join() === sorted(registrable).join()) break
      await sleep(100)
    }
    assert.deepEqual(listedAlgs, sorted(registrable))
    assert.ok(registrable.includes('RS256') && registrable.includes('ES256'))
  })

  it('lists exactly the claims an ID token carries, the profile ones when the claims parameter asks', async () => {
    const profileClaims = ['email', 'email_verified', 'name', 'given_name', 'family_name']
    const without = decodeJwt(String((await signIn(rp, CAROL, 'openid profile email')).id_token))
    for (const claim of profileClaims) assert.equal(without[claim], undefined, claim)

    assert.equal(oidc.claims_parameter_supported, true)
    const claims = JSON.stringify({
      id_token: Object.fromEntries(profileClaims.map((c) => [c, null])),
    })
    const tokens = await signIn(rp, CAROL, 'openid profile email', { claims, nonce: 'n' })
    const seen = Object.keys(decodeJwt(String(tokens.id_token)))
    assert.deepEqual(sorted(seen), sorted(listedOidc('claims_supported')))
  })

  it('says request objects are not supported, and refuses one', async () => {
    assert.equal(oidc.request_parameter_supported, false)
    const requestObject = `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from(
      JSON.stringify({ client_id: rp.client_id, scope: 'openid' }),
    ).toString('base64url')}.`
    // The same request without it is fine: the request object alone is refused.
    assert.equal((await authorizeWith({})).status, 200)
    assert.equal(errorOf(await authorizeWith({ request: requestObject })), 'invalid_request')
  })

  it('checks every *_supported field it lists against behaviour', () => {
    const fields = [...Object.keys(md), ...Object.keys(oidc)].filter(
      (k) => k.endsWith('_supported') || k.startsWith('require_'),
    )
    for (const field of fields) assert.ok(CHECKED.includes(field), `${field} is not checked`)
  })
})
