// Runs every compiled test file under dist/ and the workspaces' packages/*/dist/ with node's test
// runner. Node 20's `--test` takes no globs, so the files are listed here. Extra arguments narrow the
// run: `npm test -- store` runs files whose path contains "store".
import { existsSync, readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { spawnSync } from 'node:child_process'

function walk(dir, out) {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name)
    if (statSync(path).isDirectory()) walk(path, out)
    else if (name.endsWith('.test.js')) out.push(path)
  }
  return out
}

const filters = process.argv.slice(2).filter((a) => !a.startsWith('-'))
const flags = process.argv.slice(2).filter((a) => a.startsWith('-'))
const roots = [
  'dist',
  ...readdirSync('packages')
    .map((name) => join('packages', name, 'dist'))
    .filter((dir) => existsSync(dir)),
]
const files = roots
  .flatMap((dir) => walk(dir, []))
  .filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)))
  .sort()
if (files.length === 0) {
  console.error('no test files found under dist/ or packages/*/dist/ (did the build run?)')
  process.exit(1)
}
const result = spawnSync(
  process.execPath,
  ['--test', '--test-concurrency=2', '--test-timeout=120000', ...flags, ...files],
  { stdio: 'inherit' },
)
process.exit(result.status ?? 1)
