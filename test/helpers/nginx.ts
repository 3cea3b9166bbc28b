/**
 * The real NGINX (Debian's package, with its auth_request module) run from the repository's gateway
 * template, as docs/GATEWAY.md tells an operator to: render `examples/nginx/phantom.conf.template`
 * with `envsubst` and exactly its six variables, then `nginx -p PREFIX -c FILE -g 'daemon off;'`.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { freePort, request } from './server.js'

export const NGINX = '/usr/sbin/nginx'
export const ENVSUBST = '/usr/bin/envsubst'

/** The template in the repository (tests run from dist/test/helpers). */
export const PHANTOM_TEMPLATE = resolve(
  fileURLToPath(import.meta.url),
  '../../../../examples/nginx/phantom.conf.template',
)

/** The six variables the template is rendered from, in the order the docs list them. */
export const TEMPLATE_VARIABLES = [
  'NGINX_PREFIX',
  'LISTEN_PORT',
  'UPSTREAM_URL',
  'LATCHKEY_URL',
  'GATEWAY_CLIENT_ID',
  'GATEWAY_CLIENT_SECRET',
] as const

export type TemplateValues = Record<(typeof TEMPLATE_VARIABLES)[number], string>

/** Whether this machine can run the gateway tests (`.ci/run` installs both). */
export function haveNginx(): boolean {
  return existsSync(NGINX) && existsSync(ENVSUBST)
}

/** `envsubst '$NGINX_PREFIX …' < template`: only the six variables; NGINX's own `$vars` stay. */
export function renderTemplate(template: string, values: TemplateValues): string {
  const shellFormat = TEMPLATE_VARIABLES.map((v) => `$${v}`).join(' ')
  const result = spawnSync(ENVSUBST, [shellFormat], {
    input: readFileSync(template, 'utf8'),
    env: { PATH: process.env.PATH, ...values },
    encoding: 'utf8',
  })
  if (result.status !== 0) throw new Error(`envsubst failed: ${result.stderr}`)
  return result.stdout
}

export interface RunningNginx {
  url: string
  port: number
  prefix: string
  process: ChildProcess
  /** What NGINX wrote to its error log and stderr. */
  log(): string
  stop(): Promise<void>
}

/**
 * Renders `template` into a fresh prefix (searchable by `nobody`, who runs the workers when the tests
 * run as root), starts NGINX in the foreground on a free port and waits until it answers.
 */
export async function startNginx(
  values: Omit<TemplateValues, 'NGINX_PREFIX' | 'LISTEN_PORT'>,
  template = PHANTOM_TEMPLATE,
): Promise<RunningNginx> {
  const prefix = mkdtempSync(join(tmpdir(), 'latchkey-nginx-'))
  chmodSync(prefix, 0o755)
  const port = await freePort()
  const conf = join(prefix, 'nginx.conf')
  writeFileSync(
    conf,
    renderTemplate(template, { ...values, NGINX_PREFIX: prefix, LISTEN_PORT: String(port) }),
  )
  const child = spawn(NGINX, ['-p', prefix, '-c', conf, '-g', 'daemon off;'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let output = ''
  child.stdout.on('data', (c: Buffer) => (output += c.toString()))
  child.stderr.on('data', (c: Buffer) => (output += c.toString()))
  const exited = new Promise<void>((res) => child.once('exit', () => res()))
  const log = (): string => {
    const file = join(prefix, 'error.log')
    return output + (existsSync(file) ? readFileSync(file, 'utf8') : '')
  }
  const url = `http://127.0.0.1:${port}`
  const deadline = Date.now() + 10_000
  for (;;) {
    if (child.exitCode !== null) throw new Error(`nginx exited with ${child.exitCode}: ${log()}`)
    try {
      await request(`${url}/`)
      break
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL')
      throw new Error(`nginx did not start: ${log()}`)
    }
    await new Promise((r) => setTimeout(r, 25))
  }
  return {
    url,
    port,
    prefix,
    process: child,
    log,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        // SIGQUIT: NGINX's graceful shutdown (workers finish, the master removes its pid file).
        child.kill('SIGQUIT')
        await exited
      }
      rmSync(prefix, { recursive: true, force: true })
    },
  }
}
