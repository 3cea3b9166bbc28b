/**
 * The gateway cases: requests per second through the real NGINX, side by side,
 * - `gateway-phantom`: NGINX from the repository's template (examples/nginx/phantom.conf.template)
 *   asks Latchkey's phantom-token endpoint once per request (auth_request) and forwards the JWT; the
 *   API verifies it locally with the SDK;
 * - `gateway-introspect`: NGINX passes the opaque token through (bench/nginx/introspect.conf.template)
 *   and the API introspects it at Latchkey once per request.
 * The same opaque token, the same NGINX and the same API process (`gateway_upstream.ts`) in both; the
 * server's CPU is Latchkey's alone, NGINX's and the API's count as other load.
 */
import { fileURLToPath } from 'node:url'
import { haveNginx, startNginx, type RunningNginx } from '../test/helpers/nginx.js'
import type { BenchCase, CaseId } from './cases.js'
import { checkTokenResponse, postForJSON } from './checks.js'
import {
  GATEWAY_AUDIENCE,
  GATEWAY_CLIENT,
  OPAQUE_CLIENT,
  RESOURCE_SERVER,
  SECRET,
} from './clients.js'
import { freePort, waitUntilReady, type Child, type Harness } from './harness.js'
import type { LoadTarget } from './load.js'

const here = (relative: string): string => fileURLToPath(new URL(relative, import.meta.url))
const UPSTREAM = here('./gateway_upstream.js')
const INTROSPECT_TEMPLATE = here('../../bench/nginx/introspect.conf.template')

export const GATEWAY_TITLES = {
  'gateway-phantom': 'through NGINX: auth_request → phantom JWT, verified by the API (SDK)',
  'gateway-introspect': 'through NGINX: opaque token, the API introspects it per request',
} as const

/** Whether the gateway cases can run here (Debian's nginx and envsubst). */
export const gatewayAvailable = haveNginx

async function oneRequest(url: string, token: string): Promise<{ status: number; body: string }> {
  const res = await fetch(url, { method: 'POST', headers: { authorization: `Bearer ${token}` } })
  return { status: res.status, body: await res.text() }
}

export function gatewayCase(
  harness: Harness,
  baseUrl: string,
  id: Extract<CaseId, 'gateway-phantom' | 'gateway-introspect'>,
): BenchCase {
  const phantom = id === 'gateway-phantom'
  let nginx: RunningNginx | undefined
  let upstream: Child | undefined
  let token = ''
  const stop = async (): Promise<void> => {
    await nginx?.stop()
    nginx = undefined
    if (upstream) await harness.stop(upstream)
    upstream = undefined
  }
  const checkOne = async (): Promise<void> => {
    if (!nginx) throw new Error(`${id}: NGINX is not running`)
    const url = `${nginx.url}/orders`
    const good = await oneRequest(url, token)
    if (good.status !== 200 || !good.body.startsWith('{"ok":true')) {
      throw new Error(`${id}: ${good.status} ${good.body} for a valid token\n${nginx.log()}`)
    }
    const bad = await oneRequest(url, 'A'.repeat(43))
    if (bad.status !== 401) throw new Error(`${id}: ${bad.status} for an unknown token`)
  }
  return {
    id,
    async prepare(): Promise<LoadTarget[]> {
      await stop()
      harness.defer(stop)
      const port = await freePort()
      upstream = harness.spawnNode(`${id}-api`, [UPSTREAM], {
        ...process.env,
        MODE: phantom ? 'phantom' : 'introspect',
        PORT: String(port),
        ISSUER: baseUrl,
        AUDIENCE: GATEWAY_AUDIENCE,
        CLIENT_ID: phantom ? GATEWAY_CLIENT : RESOURCE_SERVER,
        CLIENT_SECRET: SECRET,
      })
      await waitUntilReady(`http://127.0.0.1:${port}/healthz`, upstream)
      nginx = await startNginx(
        {
          UPSTREAM_URL: `http://127.0.0.1:${port}`,
          LATCHKEY_URL: baseUrl,
          GATEWAY_CLIENT_ID: GATEWAY_CLIENT,
          GATEWAY_CLIENT_SECRET: SECRET,
        },
        ...(phantom ? [] : [INTROSPECT_TEMPLATE]),
      )
      const json = await postForJSON(
        `${baseUrl}/token`,
        OPAQUE_CLIENT,
        'grant_type=client_credentials&scope=read',
      )
      token = await checkTokenResponse(baseUrl, json, 'opaque', baseUrl)
      await checkOne()
      return [
        {
          id,
          title: GATEWAY_TITLES[id],
          url: `${nginx.url}/orders`,
          headers: { authorization: `Bearer ${token}` },
          body: '',
          verifyBody: (body) => body.startsWith('{"ok":true'),
        },
      ]
    },
    async check() {
      try {
        await checkOne()
      } finally {
        await stop()
      }
    },
  }
}
