/**
 * The packing rule of `@latchkey/verifier`: packed from the repository root with
 * `npm pack -w @latchkey/verifier`, its tarball holds only the compiled package (no tests, sources or
 * server code), and installed into an empty project it brings at most 5 packages, no native module, no
 * install script, less than 1 MB in all, and every entry point imports with no framework installed.
 */
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import {
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { after, before, describe, it } from 'node:test'

const ROOT = resolve(fileURLToPath(import.meta.url), '../../../..')
const MAX_PACKAGES = 5
const MAX_INSTALLED_BYTES = 1024 * 1024
const FRAMEWORKS = ['express', 'fastify', 'hono']

/** The environment of a child `npm`, without what `npm test` set for this run (workspace, package). */
function npmEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {}
  for (const [name, value] of Object.entries(process.env)) {
    if (/^npm_(package_|lifecycle_|config_workspace|config_prefix$)/i.test(name)) continue
    env[name] = value
  }
  return env
}

function npm(args: string[], cwd: string): string {
  const run = spawnSync('npm', args, { cwd, env: npmEnv(), encoding: 'utf8' })
  assert.equal(run.status, 0, `npm ${args.join(' ')}: ${run.stderr}`)
  return run.stdout
}

interface InstalledPackage {
  name: string
  dir: string
  scripts: Record<string, string>
}

/** Every package under `node_modules` (scoped and nested ones included). */
function installedPackages(nodeModules: string, out: InstalledPackage[] = []): InstalledPackage[] {
  if (!existsSync(nodeModules)) return out
  for (const name of readdirSync(nodeModules)) {
    if (name.startsWith('.')) continue
    const dir = join(nodeModules, name)
    if (name.startsWith('@')) {
      installedPackages(dir, out)
      continue
    }
    const manifest = join(dir, 'package.json')
    if (!existsSync(manifest)) continue
    const pkg = JSON.parse(readFileSync(manifest, 'utf8')) as {
      name: string
      scripts?: Record<string, string>
    }
    out.push({ name: pkg.name, dir, scripts: pkg.scripts ?? {} })
    installedPackages(join(dir, 'node_modules'), out)
  }
  return out
}

/** Every file under `dir`, with its size. */
function files(dir: string, out: { path: string; size: number }[] = []) {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name)
    const stat = lstatSync(path)
    if (stat.isDirectory()) files(path, out)
    else out.push({ path, size: stat.size })
  }
  return out
}

describe('@latchkey/verifier as a package', () => {
  let work: string
  let tarball: string
  let packed: { path: string; size: number }[]
  let tarballSize: number

  before(() => {
    work = mkdtempSync(join(tmpdir(), 'latchkey-pack-'))
    const out = npm(
      ['pack', '-w', '@latchkey/verifier', '--pack-destination', work, '--json', '--silent'],
      ROOT,
    )
    const [result] = JSON.parse(out) as {
      filename: string
      size: number
      files: { path: string; size: number }[]
    }[]
    assert.ok(result)
    tarball = join(work, result.filename)
    packed = result.files
    tarballSize = result.size
  })

  after(() => rmSync(work, { recursive: true, force: true }))

  it('packs only the compiled package, its README and package.json', (t) => {
    t.diagnostic(`tarball: ${tarballSize} bytes, ${packed.length} files`)
    const paths = packed.map((f) => f.path).sort()
    for (const path of paths) {
      assert.ok(
        path === 'package.json' ||
          path === 'README.md' ||
          path === 'LICENSE' ||
          /^dist\/[a-z_/]+\.(js|d\.ts)$/.test(path),
        `unexpected file in the tarball: ${path}`,
      )
      assert.doesNotMatch(path, /\.test\.|^dist\/testing\//, `a test in the tarball: ${path}`)
    }
    // Every entry point, with its types.
    const manifest = JSON.parse(
      readFileSync(join(ROOT, 'packages/verifier/package.json'), 'utf8'),
    ) as { exports: Record<string, string | { types: string; default: string }> }
    for (const [subpath, target] of Object.entries(manifest.exports)) {
      if (typeof target === 'string') continue
      assert.ok(paths.includes(target.default.slice(2)), `${subpath}: ${target.default} is missing`)
      assert.ok(paths.includes(target.types.slice(2)), `${subpath}: ${target.types} is missing`)
    }
    assert.ok(paths.includes('README.md'))
    // Nothing of the server: no store, no CLI, no token issuing.
    assert.ok(!paths.some((p) => /store|cli|server|signer/.test(p)), paths.join(' '))
  })

  it('installs into an empty project as at most 5 packages, no native code, under 1 MB', (t) => {
    const app = join(work, 'app')
    mkdirSync(app)
    writeFileSync(
      join(app, 'package.json'),
      JSON.stringify({ name: 'an-api', version: '1.0.0', private: true, type: 'module' }),
    )
    npm(['install', '--prefer-offline', '--no-audit', '--no-fund', tarball], app)

    const installed = installedPackages(join(app, 'node_modules'))
    const sizes = files(join(app, 'node_modules'))
    const bytes = sizes.reduce((sum, f) => sum + f.size, 0)
    t.diagnostic(
      `installed: ${installed.length} package(s) (${installed.map((p) => p.name).join(', ')}), ` +
        `${bytes} bytes`,
    )
    assert.ok(installed.some((p) => p.name === '@latchkey/verifier'))
    assert.ok(installed.length <= MAX_PACKAGES, installed.map((p) => p.name).join(', '))
    assert.ok(bytes < MAX_INSTALLED_BYTES, `${bytes} bytes installed`)
    for (const file of sizes) {
      assert.ok(!file.path.endsWith('.node'), `native module: ${file.path}`)
      assert.ok(!file.path.endsWith('binding.gyp'), `native build: ${file.path}`)
    }
    for (const pkg of installed) {
      for (const hook of ['preinstall', 'install', 'postinstall']) {
        assert.equal(pkg.scripts[hook], undefined, `${pkg.name} has an ${hook} script`)
      }
      assert.doesNotMatch(pkg.name, /sqlite|argon2|^pg$|redis|^latchkey$/)
    }
    // The frameworks are optional peers: none comes along.
    for (const framework of FRAMEWORKS) {
      assert.ok(!installed.some((p) => p.name === framework), `${framework} was installed`)
    }

    // Every entry point imports in that project, with no framework installed.
    writeFileSync(
      join(app, 'main.js'),
      `import { createVerifier, VerifierError, VerifierConfigError } from '@latchkey/verifier'
import { expressBearerAuth } from '@latchkey/verifier/express'
import { fastifyBearerAuth } from '@latchkey/verifier/fastify'
import { honoBearerAuth } from '@latchkey/verifier/hono'
import { checkDpopProof, jwkThumbprint } from '@latchkey/verifier/dpop'
const v = createVerifier({ issuer: 'http://127.0.0.1:1', audience: 'a', revocationFeed: false })
v.close()
console.log([createVerifier, VerifierError, VerifierConfigError, expressBearerAuth, fastifyBearerAuth, honoBearerAuth, checkDpopProof, jwkThumbprint].map((f) => typeof f).join(' '))
`,
    )
    const run = spawnSync(process.execPath, ['main.js'], { cwd: app, encoding: 'utf8' })
    assert.equal(run.status, 0, run.stderr)
    assert.equal(run.stdout.trim(), Array(8).fill('function').join(' '))
  })
})
