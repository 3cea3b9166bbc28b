/**
 * Every relative link in the README and docs/ leads somewhere: the file exists, and so does the
 * heading an anchor names (GitHub's slugs). Files that other parts of the build generate or own are
 * allowed to be missing only while they do not exist yet.
 */
import assert from 'node:assert/strict'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, it } from 'node:test'

const ROOT = resolve(fileURLToPath(import.meta.url), '../../../..')

/** Written by others (generated references, the package's README): linked before they land. */
const OWNED_ELSEWHERE = new Set([
  'docs/CLI.md',
  'docs/CONFIGURATION.md',
  'docs/API.md',
  'packages/verifier/README.md',
])

/** The anchors GitHub gives a Markdown file's headings. */
function anchors(markdown: string): Set<string> {
  const out = new Set<string>()
  const prose = markdown.replace(/^```[\s\S]*?^```$/gm, '')
  for (const m of prose.matchAll(/^#{1,6} +(.+)$/gm)) {
    const slug = (m[1] ?? '')
      .toLowerCase()
      .replace(/[^\p{L}\p{N} _-]/gu, '')
      .replace(/ /g, '-')
    out.add(slug)
  }
  return out
}

function documents(): string[] {
  const docs = readdirSync(join(ROOT, 'docs'))
    .filter((name) => name.endsWith('.md'))
    .map((name) => `docs/${name}`)
  return ['README.md', ...docs]
}

describe('links in the README and docs/', () => {
  it('lead to files and headings that exist', () => {
    const broken: string[] = []
    for (const doc of documents()) {
      const markdown = readFileSync(join(ROOT, doc), 'utf8')
      const prose = markdown.replace(/^```[\s\S]*?^```$/gm, '')
      for (const m of prose.matchAll(/\]\(([^)\s]+)\)/g)) {
        const link = m[1] ?? ''
        if (/^[a-z]+:/.test(link)) continue
        const [path = '', anchor] = link.split('#')
        const target = path === '' ? join(ROOT, doc) : resolve(join(ROOT, dirname(doc)), path)
        const name = relative(ROOT, target)
        if (!existsSync(target)) {
          if (!OWNED_ELSEWHERE.has(name)) broken.push(`${doc}: ${link} (no such file)`)
          continue
        }
        if (anchor !== undefined && name.endsWith('.md')) {
          if (!anchors(readFileSync(target, 'utf8')).has(anchor)) {
            broken.push(`${doc}: ${link} (no such heading)`)
          }
        }
      }
    }
    assert.deepEqual(broken, [])
  })

  it('link the README to every reference a user needs', () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8')
    for (const doc of [
      'docs/CLI.md',
      'docs/CONFIGURATION.md',
      'docs/API.md',
      'packages/verifier/README.md',
      'docs/VERIFIER.md',
      'docs/SECURITY.md',
      'docs/DEPLOYMENT.md',
      'docs/BENCHMARKS.md',
    ]) {
      assert.ok(readme.includes(`](${doc})`), `README.md does not link ${doc}`)
    }
  })

  it('keep the development log out: no internal labels, hosts or runs of a day outside BENCHMARKS.md', () => {
    for (const doc of documents().filter((d) => d !== 'docs/BENCHMARKS.md')) {
      const markdown = readFileSync(join(ROOT, doc), 'utf8')
      assert.doesNotMatch(markdown, /\bP[1-9]\b/, `${doc} names an internal label`)
      assert.doesNotMatch(markdown, /\b20\d\d-\d\d-\d\d\b/, `${doc} carries a dated figure`)
      assert.doesNotMatch(markdown, /\bafternoon|\bissue \d+\b/i, `${doc} reads like a log`)
    }
  })
})
