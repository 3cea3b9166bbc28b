/**
 * wrk (C, event-driven) as the load generator of fixed requests: it takes a fifth to a third of the
 * CPU autocannon takes for the same rate, CPU the servers under test get back on a shared machine.
 * Each load is one `wrk -t1` child process driven by a generated Lua script. The script sets the
 * request (or, for a cycle of requests, pre-formats them all in `init()`) and defines `done()`, which
 * prints one JSON line of wrk's totals and latency histogram. It defines no `response()`: with one,
 * wrk would parse every response's headers and body in Lua, which costs more than the load itself.
 * So wrk sees only each response's status: it counts those above 399 (`errors.status`), nothing else.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { accessSync, constants } from 'node:fs'
import { delimiter, join } from 'node:path'

/** What wrk's `done()` reports for one load (times in µs). */
export interface WrkSummary {
  /** Completed requests (answers, whatever their status). */
  requests: number
  durationMicros: number
  /** `status`: answers with a status above 399; `timeout`: no answer within `--timeout`. */
  errors: { connect: number; read: number; write: number; status: number; timeout: number }
  latencyMicros: { mean: number; max: number; p50: number; p90: number; p99: number }
}

/** A request sent again and again. */
export interface FixedRequest {
  method: string
  headers: Record<string, string>
  body?: string
}

/** A Lua string literal of `text` (its UTF-8 bytes; anything but printable ASCII escaped). */
export function luaString(text: string): string {
  let out = '"'
  for (const byte of Buffer.from(text, 'utf8')) {
    const printable = byte >= 0x20 && byte < 0x7f && byte !== 0x22 && byte !== 0x5c
    out += printable ? String.fromCharCode(byte) : `\\${String(byte).padStart(3, '0')}`
  }
  return `${out}"`
}

/** The `done()` every script ends with: one JSON line on stdout, after wrk's own text. */
const DONE = `
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"wrkSummary":{"requests":%.0f,"durationMicros":%.0f,' ..
    '"errors":{"connect":%.0f,"read":%.0f,"write":%.0f,"status":%.0f,"timeout":%.0f},' ..
    '"latencyMicros":{"mean":%.1f,"max":%.0f,"p50":%.0f,"p90":%.0f,"p99":%.0f}}}\\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency.mean, latency.max, latency:percentile(50), latency:percentile(90),
    latency:percentile(99)))
end
`

/** The script of a load that sends `request` every time (wrk formats it once and resends it). */
export function fixedScript(request: FixedRequest): string {
  const lines = [`wrk.method = ${luaString(request.method)}`]
  if (request.body !== undefined) lines.push(`wrk.body = ${luaString(request.body)}`)
  for (const [name, value] of Object.entries(request.headers))
    lines.push(`wrk.headers[${luaString(name)}] = ${luaString(value)}`)
  return `${lines.join('\n')}\n${DONE}`
}

/**
 * The script of a load of GET requests that differ only in header `header`: its values, one a line,
 * are read from the file `valuesPath` in `init()`, each request pre-formatted, and sent in turn, one
 * cycle shared by the thread's connections.
 */
export function cycleScript(header: string, valuesPath: string): string {
  return `local requests = {}
local index = 0

function init(args)
  for line in io.lines(${luaString(valuesPath)}) do
    requests[#requests + 1] = wrk.format("GET", nil, { [${luaString(header)}] = line })
  end
end

function request()
  index = index % #requests + 1
  return requests[index]
end
${DONE}`
}

/** The summary in wrk's stdout (the JSON line `done()` printed); throws when there is none. */
export function parseWrkSummary(stdout: string): WrkSummary {
  const line = stdout.split('\n').find((l) => l.startsWith('{"wrkSummary":'))
  if (line === undefined) throw new Error(`wrk printed no summary:\n${stdout.slice(-2000)}`)
  return (JSON.parse(line) as { wrkSummary: WrkSummary }).wrkSummary
}

/** `wrk`'s path on PATH, or null. */
export function findWrk(): string | null {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir === '') continue
    const path = join(dir, 'wrk')
    try {
      accessSync(path, constants.X_OK)
      return path
    } catch {
      // Not in this folder.
    }
  }
  return null
}

/** wrk's version as it prints it (`debian/4.1.0-3+b2`), or `?`. */
export function wrkVersion(): string {
  // wrk -v prints its version and usage, then exits 1.
  const { stdout } = spawnSync('wrk', ['-v'], { encoding: 'utf8' })
  return /^wrk (\S+)/.exec(stdout ?? '')?.[1] ?? '?'
}

const running = new Set<ChildProcess>()

/** Stops the wrk loads in progress (SIGINT: wrk stops and still reports). */
export function stopWrk(): void {
  for (const child of running) child.kill('SIGINT')
}

/**
 * `seconds` of load on `url` with `connections` connections from one wrk thread, the requests made by
 * the script at `scriptPath`; `onTick` is called each second with the seconds left. Rejects when wrk
 * fails or prints no summary.
 */
export function runWrk(
  url: string,
  connections: number,
  seconds: number,
  scriptPath: string,
  onTick: (secondsLeft: number) => void = () => {},
): Promise<WrkSummary> {
  const args = ['-t1', '-c', String(connections), '-d', `${seconds}s`, '--timeout', '10s']
  const child = spawn('wrk', [...args, '-s', scriptPath, url], {
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  running.add(child)
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()))
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
  let left = seconds
  const ticker = setInterval(() => onTick(--left), 1000)
  const settle = (): void => {
    clearInterval(ticker)
    running.delete(child)
  }
  return new Promise((resolve, reject) => {
    child.once('error', (error) => {
      settle()
      reject(error)
    })
    child.once('close', (code, signal) => {
      settle()
      if (code !== 0 && signal === null) {
        reject(new Error(`wrk exited ${code}: ${stderr.trim() || stdout.trim()}`))
        return
      }
      try {
        resolve(parseWrkSummary(stdout))
      } catch (error) {
        reject(error instanceof Error ? error : new Error(String(error)))
      }
    })
  })
}
