/**
 * The benchmark chart (`docs/benchmark.svg`), written by hand: one group of horizontal bars per case,
 * one bar per system (req/s, labelled with the rate and the p99 latency), the floors in a last group,
 * a shared x axis with grid lines, a legend (wrapped onto as many rows as it needs), and the
 * conditions of the run under the title, then the targets: one bar per target, its measured ratio
 * (or rate) on a scale where the target is a vertical line, green when met, red when missed, pale for
 * a row shown beside the judged one. A system's two-node or workers variant has a lighter shade of its
 * one-node colour.
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { dirname } from 'node:path'
import { CASE_IDS, CASE_TITLES } from './cases.js'
import { SYSTEM_NAMES, targetFigures, type BenchReport, type SystemId } from './report.js'

const COLORS: Record<SystemId | 'floor', string> = {
  'latchkey-sqlite': '#2563eb',
  'latchkey-sqlite-workers': '#93c5fd',
  'latchkey-postgres': '#0d9488',
  'latchkey-postgres-workers': '#99f6e4',
  'latchkey-postgres-2': '#5eead4',
  'latchkey-postgres-redis': '#be123c',
  'latchkey-postgres-redis-2': '#fda4af',
  reference: '#f59e0b',
  floor: '#9ca3af',
}
const LEGEND: Record<SystemId | 'floor', string> = {
  ...SYSTEM_NAMES,
  floor: 'floor (bare node:http; raw node:crypto, 1 thread)',
}

const WIDTH = 980
const LEFT = 280
const PLOT = 480
const BAR = 18
const BAR_GAP = 4
const GROUP_GAP = 16
const HEADER = 22
const FONT = 'font-family="system-ui, -apple-system, Segoe UI, Helvetica, Arial, sans-serif"'

interface Bar {
  key: SystemId | 'floor'
  label: string
  /** null: no bar, only the label (failed, unsupported). */
  value: number | null
  text: string
}

interface Group {
  title: string
  bars: Bar[]
}

const escape = (s: string): string =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;')
const int = (n: number): string => Math.round(n).toLocaleString('en-US')

/** A round axis maximum at or above `max`: 1, 2, 2.5 or 5 times a power of ten. */
function niceMax(max: number): number {
  if (max <= 0) return 1
  const power = 10 ** Math.floor(Math.log10(max))
  for (const step of [1, 2, 2.5, 5, 10]) if (step * power >= max) return step * power
  return 10 * power
}

function groups(report: BenchReport): Group[] {
  const out: Group[] = []
  for (const id of CASE_IDS) {
    const bars: Bar[] = []
    for (const system of report.systems) {
      if (system.skipped !== null) continue
      const c = system.cases.find((x) => x.id === id)
      const unsupported = system.unsupported.find((u) => u.id === id)
      const label = SYSTEM_NAMES[system.id]
      if (c?.result && c.failure === null) {
        const r = c.result
        bars.push({
          key: system.id,
          label,
          value: r.requestsPerSecond,
          text: `${int(r.requestsPerSecond)} req/s · p99 ${r.latencyMs.p99.toFixed(1)} ms`,
        })
      } else if (c) {
        bars.push({ key: system.id, label, value: null, text: 'FAILED (not counted)' })
      } else if (unsupported) {
        bars.push({ key: system.id, label, value: null, text: unsupported.short })
      }
    }
    if (bars.length > 0) out.push({ title: CASE_TITLES[id], bars })
  }
  const { floors } = report
  const bare = floors.bareHttp.result
  out.push({
    title: 'Floors',
    bars: [
      bare && floors.bareHttp.failure === null
        ? {
            key: 'floor',
            label: 'bare node:http, small JSON',
            value: bare.requestsPerSecond,
            text: `${int(bare.requestsPerSecond)} req/s · p99 ${bare.latencyMs.p99.toFixed(1)} ms`,
          }
        : { key: 'floor', label: 'bare node:http', value: null, text: 'FAILED' },
      {
        key: 'floor',
        label: 'raw ES256 sign, start of run',
        value: floors.es256SignPerSecond,
        text: `${int(floors.es256SignPerSecond)} ops/s`,
      },
      // The sign floor of token-jwt's target, when it was measured in that case's rounds.
      ...(floors.signInRounds
        ? [
            {
              key: 'floor' as const,
              label: "raw ES256 sign, token-jwt's rounds",
              value: floors.signInRounds.es256SignPerSecond,
              text: `${int(floors.signInRounds.es256SignPerSecond)} ops/s (median of ${floors.signInRounds.rounds.length} rounds)`,
            },
          ]
        : []),
      {
        key: 'floor',
        label: 'raw ES256 verify',
        value: floors.es256VerifyPerSecond,
        text: `${int(floors.es256VerifyPerSecond)} ops/s`,
      },
    ],
  })
  return out
}

/** The chart as an SVG document. */
export function renderChart(report: BenchReport): string {
  const all = groups(report)
  const max = niceMax(Math.max(1, ...all.flatMap((g) => g.bars.map((b) => b.value ?? 0))))
  const x = (value: number): number => LEFT + (value / max) * PLOT
  const keys = [...new Set(all.flatMap((g) => g.bars.map((b) => b.key)))] as (SystemId | 'floor')[]

  // The legend first: its rows push the plot down.
  const legend: string[] = []
  let lx = 16
  let ly = 84
  for (const key of keys) {
    const width = 18 + LEGEND[key].length * 6.6 + 22
    if (lx > 16 && lx + width - 22 > WIDTH - 16) {
      lx = 16
      ly += 20
    }
    legend.push(`<rect x="${lx}" y="${ly}" width="12" height="12" rx="2" fill="${COLORS[key]}"/>`)
    legend.push(
      `<text x="${lx + 18}" y="${ly + 10}" font-size="12" fill="#374151">${escape(LEGEND[key])}</text>`,
    )
    lx += width
  }

  const top = ly + 34
  const parts: string[] = []
  let y = top
  for (const group of all) {
    parts.push(
      `<text x="16" y="${y + 14}" font-size="13" font-weight="600" fill="#111827">${escape(group.title)}</text>`,
    )
    y += HEADER
    for (const bar of group.bars) {
      const mid = y + BAR / 2 + 4
      parts.push(
        `<text x="${LEFT - 8}" y="${mid}" font-size="12" fill="#374151" text-anchor="end">${escape(bar.label)}</text>`,
      )
      if (bar.value !== null) {
        const w = Math.max(1, x(bar.value) - LEFT)
        parts.push(
          `<rect x="${LEFT}" y="${y}" width="${w.toFixed(1)}" height="${BAR}" rx="2" fill="${COLORS[bar.key]}"/>`,
        )
        parts.push(
          `<text x="${(LEFT + w + 6).toFixed(1)}" y="${mid}" font-size="12" fill="#111827">${escape(bar.text)}</text>`,
        )
      } else {
        parts.push(
          `<text x="${LEFT + 6}" y="${mid}" font-size="12" font-style="italic" fill="#6b7280">${escape(bar.text)}</text>`,
        )
      }
      y += BAR + BAR_GAP
    }
    y += GROUP_GAP
  }
  const bottom = y - GROUP_GAP + 4

  // Axis: grid lines and tick labels at fifths of the maximum.
  const axis: string[] = []
  for (let i = 0; i <= 5; i++) {
    const value = (max / 5) * i
    const px = x(value).toFixed(1)
    axis.push(
      `<line x1="${px}" y1="${top - 4}" x2="${px}" y2="${bottom}" stroke="${i === 0 ? '#6b7280' : '#e5e7eb'}" stroke-width="1"/>`,
    )
    axis.push(
      `<text x="${px}" y="${bottom + 16}" font-size="11" fill="#6b7280" text-anchor="middle">${int(value)}</text>`,
    )
  }
  axis.push(
    `<text x="${LEFT + PLOT / 2}" y="${bottom + 34}" font-size="12" fill="#374151" text-anchor="middle">requests per second (raw crypto: operations per second) — higher is better</text>`,
  )

  // The targets: measured over minimum, on a scale of 0 to twice the target, the target a line.
  const targets: string[] = []
  let ty = bottom + 64
  if (report.targets.length > 0) {
    targets.push(
      `<text x="16" y="${ty}" font-size="13" font-weight="600" fill="#111827">Targets (every core): ratios from one run, interleaved rounds; bar = measured, line = target</text>`,
    )
    ty += 10
    const barLeft = 600
    const barWidth = 180
    const line = barLeft + barWidth / 2
    for (const t of report.targets) {
      const mid = ty + BAR / 2 + 4
      const name = t.name.length > 88 ? `${t.name.slice(0, 87)}…` : t.name
      targets.push(
        `<text x="16" y="${mid}" font-size="12" fill="${t.judged ? '#111827' : '#6b7280'}">${escape(name)}</text>`,
      )
      const { value, minimum } = targetFigures(t)
      if (t.ratio === null) {
        targets.push(
          `<text x="${barLeft + barWidth + 8}" y="${mid}" font-size="12" font-style="italic" fill="#6b7280">${escape(`not measured (target ${minimum})`)}</text>`,
        )
      } else {
        const w = Math.max(1, Math.min(barWidth, (t.ratio / t.minimum) * (barWidth / 2)))
        const fill = t.pass ? '#16a34a' : '#dc2626'
        const opacity = t.judged ? '1' : '0.4'
        targets.push(
          `<rect x="${barLeft}" y="${ty}" width="${w.toFixed(1)}" height="${BAR}" rx="2" fill="${fill}" fill-opacity="${opacity}"/>`,
        )
        const verdict = t.judged ? (t.pass ? 'met' : 'missed') : 'not judged'
        targets.push(
          `<text x="${barLeft + barWidth + 8}" y="${mid}" font-size="12" fill="#111827">${escape(`${value} of ${minimum} · ${verdict}`)}</text>`,
        )
      }
      targets.push(
        `<line x1="${line}" y1="${ty - 2}" x2="${line}" y2="${ty + BAR + 2}" stroke="#111827" stroke-width="2"/>`,
      )
      ty += BAR + BAR_GAP
    }
  }

  const { machine, settings } = report
  const subtitle =
    `${machine.model}, ${machine.cores} cores, Node ${machine.node}; ` +
    (settings.generator === 'wrk' ? 'wrk (autocannon for refresh and DPoP), ' : 'autocannon, ') +
    `${settings.connections} connections, on the same ${machine.cores} cores as the server; ` +
    `${settings.runs === 1 ? '1 run' : `median of ${settings.runs} runs`} of ${settings.measureSeconds} s per case`
  const note =
    `${report.startedAt.slice(0, 10)}${report.quick ? ' · --quick run: short and noisy, for checking the harness only' : ''}` +
    ' · labels: rate · p99 latency'
  const height = targets.length > 0 ? ty + 16 : bottom + 50
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" ${FONT} role="img" aria-labelledby="title">`,
    `<title id="title">Latchkey benchmark: requests per second by case and system, with p99 latency</title>`,
    `<rect width="${WIDTH}" height="${height}" fill="#ffffff"/>`,
    `<text x="16" y="30" font-size="18" font-weight="700" fill="#111827">Latchkey vs oidc-provider vs the floors: throughput (req/s) and p99 latency</text>`,
    `<text x="16" y="52" font-size="12" fill="#4b5563">${escape(subtitle)}</text>`,
    `<text x="16" y="70" font-size="12" fill="#4b5563">${escape(note)}</text>`,
    ...legend,
    ...axis,
    ...parts,
    ...targets,
    '</svg>',
    '',
  ].join('\n')
}

export function writeChart(path: string, report: BenchReport): void {
  mkdirSync(dirname(path), { recursive: true })
  writeFileSync(path, renderChart(report))
}
