/**
 * Reads a V8 `.cpuprofile` (what `node --cpu-prof` writes): the functions with the most self time
 * (samples whose top frame is the function), the most inclusive time (samples with the function
 * anywhere on the stack, counted once however often it recurses), and self time by package.
 * Percentages are of the busy time: everything but `(idle)`.
 */

export interface CPUProfileNode {
  id: number
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number }
  hitCount?: number
  children?: number[]
}

export interface CPUProfile {
  nodes: CPUProfileNode[]
  startTime: number
  endTime: number
  samples?: number[]
  timeDeltas?: number[]
}

export interface ProfileEntry {
  name: string
  ms: number
  /** Share of the busy (non-idle) time. */
  share: number
}

export interface ProfileSummary {
  totalMs: number
  idleMs: number
  busyMs: number
  samples: number
  bySelf: ProfileEntry[]
  byInclusive: ProfileEntry[]
  byPackage: ProfileEntry[]
}

/** `file:///…/node_modules/fastify/lib/route.js` → `fastify/lib/route.js`; dist paths from `dist/`. */
function shortUrl(url: string): string {
  const path = url.replace(/^file:\/\//, '')
  const modules = path.lastIndexOf('/node_modules/')
  if (modules >= 0) return path.slice(modules + '/node_modules/'.length)
  const dist = path.lastIndexOf('/dist/')
  if (dist >= 0) return path.slice(dist + 1)
  return path
}

function functionKey(node: CPUProfileNode): string {
  const { functionName, url, lineNumber } = node.callFrame
  if (url === '') return functionName === '' ? '(anonymous native)' : `${functionName} (native)`
  return `${functionName || '(anonymous)'}  ${shortUrl(url)}:${lineNumber + 1}`
}

/** The package a frame belongs to: a node_modules package, Node's core, Latchkey's folder, V8. */
function packageOf(node: CPUProfileNode): string {
  const { functionName, url } = node.callFrame
  if (url === '')
    return functionName.startsWith('(') ? functionName : '(native: V8 builtins, bindings)'
  if (url.startsWith('node:')) return 'node core (node:*)'
  const path = url.replace(/^file:\/\//, '')
  const modules = path.lastIndexOf('/node_modules/')
  if (modules >= 0) {
    const parts = path.slice(modules + '/node_modules/'.length).split('/')
    const name = parts[0]?.startsWith('@') ? `${parts[0]}/${parts[1] ?? ''}` : (parts[0] ?? '?')
    return `npm: ${name}`
  }
  const src = /\/dist\/(src\/[^/]+)/.exec(path)
  if (src?.[1]) return `latchkey: ${src[1]}`
  return shortUrl(url)
}

function top(map: Map<string, number>, busy: number, count: number): ProfileEntry[] {
  return [...map]
    .sort((a, b) => b[1] - a[1])
    .slice(0, count)
    .map(([name, us]) => ({ name, ms: us / 1000, share: busy > 0 ? us / busy : 0 }))
}

/**
 * `window`: only the samples from `fromEndUs` to `toEndUs` microseconds before the profile's end (the
 * measured load, without start-up and warm-up before it or the shutdown after it).
 */
export function summarizeProfile(
  profile: CPUProfile,
  count: number,
  window?: { fromEndUs: number; toEndUs: number },
): ProfileSummary {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]))
  const parent = new Map<number, number>()
  for (const node of profile.nodes)
    for (const child of node.children ?? []) parent.set(child, node.id)

  const samples = profile.samples ?? []
  const deltas = profile.timeDeltas ?? []
  // A sample lasts until the next one; the last one until the end of the profile.
  let clock = profile.startTime
  const stamps = samples.map((_, i) => (clock += deltas[i] ?? 0))
  const duration = (i: number): number =>
    i + 1 < stamps.length
      ? (stamps[i + 1] ?? 0) - (stamps[i] ?? 0)
      : profile.endTime - (stamps[i] ?? 0)

  // The distinct function keys on each node's stack, computed once per node.
  const stackKeys = new Map<number, string[]>()
  const keysOf = (id: number): string[] => {
    const cached = stackKeys.get(id)
    if (cached) return cached
    const keys = new Set<string>()
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const node = byId.get(at)
      if (node && node.callFrame.functionName !== '(root)') keys.add(functionKey(node))
    }
    const list = [...keys]
    stackKeys.set(id, list)
    return list
  }

  const self = new Map<string, number>()
  const inclusive = new Map<string, number>()
  const packages = new Map<string, number>()
  let total = 0
  let idle = 0
  const from = window ? profile.endTime - window.fromEndUs : -Infinity
  const to = window ? profile.endTime - window.toEndUs : Infinity
  let counted = 0
  samples.forEach((id, i) => {
    const node = byId.get(id)
    const stamp = stamps[i] ?? 0
    if (!node || stamp < from || stamp > to) return
    counted++
    const us = Math.max(0, duration(i))
    total += us
    if (node.callFrame.functionName === '(idle)') {
      idle += us
      return
    }
    const key = functionKey(node)
    self.set(key, (self.get(key) ?? 0) + us)
    const pkg = packageOf(node)
    packages.set(pkg, (packages.get(pkg) ?? 0) + us)
    for (const k of keysOf(id)) inclusive.set(k, (inclusive.get(k) ?? 0) + us)
  })
  const busy = total - idle
  return {
    totalMs: total / 1000,
    idleMs: idle / 1000,
    busyMs: busy / 1000,
    samples: counted,
    bySelf: top(self, busy, count),
    byInclusive: top(inclusive, busy, count),
    byPackage: top(packages, busy, count),
  }
}

export function formatProfile(summary: ProfileSummary): string {
  const rows = (entries: ProfileEntry[]): string =>
    entries
      .map(
        (e, i) =>
          `${String(i + 1).padStart(3)}. ${(e.share * 100).toFixed(1).padStart(5)}%  ` +
          `${e.ms.toFixed(0).padStart(7)} ms  ${e.name}`,
      )
      .join('\n')
  return [
    `profiled ${summary.totalMs.toFixed(0)} ms, ${summary.samples} samples; idle ` +
      `${summary.idleMs.toFixed(0)} ms; busy ${summary.busyMs.toFixed(0)} ms (percentages below are of busy time)`,
    '',
    'Top functions by self time',
    rows(summary.bySelf),
    '',
    'Top functions by inclusive time (on the stack)',
    rows(summary.byInclusive),
    '',
    'Self time by package',
    rows(summary.byPackage),
  ].join('\n')
}
