// Takes the web console's screenshots for docs/ADMIN.md (docs/images/console-*.png, 1280x800): runs
// the console's browser test (after `npm run build`) with LATCHKEY_CONSOLE_SCREENSHOTS set, so the
// pictures show what the test has just checked, then refuses any PNG over 150 KB.
// Run: npm run build && node scripts/console_screenshots.mjs
import { spawnSync } from 'node:child_process'
import { mkdirSync, readdirSync, statSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

const dir = fileURLToPath(new URL('../docs/images/', import.meta.url))
const test = fileURLToPath(new URL('../dist/test/e2e/console_browser.test.js', import.meta.url))
mkdirSync(dir, { recursive: true })
const run = spawnSync(process.execPath, ['--test', test], {
  stdio: 'inherit',
  env: { ...process.env, LATCHKEY_CONSOLE_SCREENSHOTS: dir },
})
if (run.status !== 0) process.exit(run.status ?? 1)
let tooBig = false
for (const name of readdirSync(dir).filter((n) => /^console-.*\.png$/.test(n))) {
  const kb = Math.round(statSync(dir + name).size / 1024)
  console.log(`docs/images/${name}: ${kb} KB`)
  if (kb > 150) tooBig = true
}
if (tooBig) {
  console.error('a screenshot is over 150 KB')
  process.exit(1)
}
