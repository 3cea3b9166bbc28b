/**
 * The benchmark's own housekeeping: a temporary folder, child processes (the server, the bare
 * `node:http` floor, the CLI), free ports, and a cleanup that runs on success, on error and on Ctrl-C,
 * so no child outlives the run and the folder is always removed.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { closeSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export interface Child {
  name: string
  pid: number
  process: ChildProcess
  /** Resolves with the exit code (or signal name) once the process has exited. */
  exited: Promise<string>
  /** Files that receive the child's stdout and stderr. */
  stdoutPath: string
  stderrPath: string
}

const STOP_GRACE_MS = 3000

/** The last `bytes` of a file, for error messages; empty when it cannot be read. */
export function tailOf(path: string, bytes = 2000): string {
  try {
    const text = readFileSync(path, 'utf8')
    return text.length > bytes ? `…${text.slice(-bytes)}` : text
  } catch {
    return ''
  }
}

/** A TCP port that was free on 127.0.0.1 a moment ago. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer()
    probe.once('error', reject)
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address()
      probe.close(() => {
        if (typeof address === 'object' && address) resolve(address.port)
        else reject(new Error('could not get a free port'))
      })
    })
  })
}

export class Harness {
  readonly folder: string
  private readonly children = new Set<Child>()
  private readonly cleanups: (() => Promise<void>)[] = []
  private closed = false

  constructor() {
    this.folder = mkdtempSync(join(tmpdir(), 'latchkey-bench-'))
  }

  /**
   * Starts `node <args>` with its output in files of the temp folder (a pipe nobody reads would block
   * a chatty child; files cost the harness nothing while the load runs).
   */
  spawnNode(name: string, args: string[], env: NodeJS.ProcessEnv = process.env): Child {
    if (this.closed) throw new Error('the benchmark is stopping')
    const stdoutPath = join(this.folder, `${name}.stdout.log`)
    const stderrPath = join(this.folder, `${name}.stderr.log`)
    const out = openSync(stdoutPath, 'w')
    const err = openSync(stderrPath, 'w')
    let child: ChildProcess
    try {
      child = spawn(process.execPath, args, {
        stdio: ['ignore', out, err],
        env,
      })
    } finally {
      closeSync(out)
      closeSync(err)
    }
    if (child.pid === undefined) throw new Error(`could not start ${name}`)
    const exited = new Promise<string>((resolve) => {
      child.once('exit', (code, signal) => resolve(signal ?? String(code)))
      child.once('error', (e) => resolve(`error: ${e.message}`))
    })
    const handle: Child = { name, pid: child.pid, process: child, exited, stdoutPath, stderrPath }
    this.children.add(handle)
    void exited.then(() => this.children.delete(handle))
    return handle
  }

  /**
   * Runs `node <args>` to completion and returns its stdout; throws with its stderr on failure.
   * `input` is written to its standard input (a password for `latchkey user create`).
   */
  runNode(
    args: string[],
    options: { env?: NodeJS.ProcessEnv; input?: string; timeoutMs?: number } = {},
  ): Promise<string> {
    return new Promise((resolve, reject) => {
      const child = execFile(
        process.execPath,
        args,
        {
          env: { ...process.env, ...options.env },
          timeout: options.timeoutMs ?? 60_000,
          maxBuffer: 4 << 20,
        },
        (error, stdout, stderr) => {
          if (error)
            reject(new Error(`node ${args.join(' ')} failed: ${stderr.trim() || error.message}`))
          else resolve(stdout)
        },
      )
      child.stdin?.end(options.input ?? '')
    })
  }

  /** Work to do when the harness closes, before the temp folder goes (dropping a database). */
  defer(cleanup: () => Promise<void>): void {
    this.cleanups.push(cleanup)
  }

  /** SIGTERM, then SIGKILL after a grace period. Resolves once the child has exited. */
  async stop(child: Child): Promise<string> {
    if (child.process.exitCode === null && child.process.signalCode === null) {
      child.process.kill('SIGTERM')
      const timer = setTimeout(() => child.process.kill('SIGKILL'), STOP_GRACE_MS)
      try {
        return await child.exited
      } finally {
        clearTimeout(timer)
      }
    }
    return child.exited
  }

  /** Stops every child still running and removes the temp folder. Safe to call more than once. */
  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    await Promise.all([...this.children].map((c) => this.stop(c)))
    for (const cleanup of this.cleanups.splice(0).reverse()) {
      await cleanup().catch((error: unknown) => {
        process.stderr.write(`cleanup: ${error instanceof Error ? error.message : String(error)}\n`)
      })
    }
    rmSync(this.folder, { recursive: true, force: true })
  }

  /** The last resort, for `process.on('exit')`: synchronous, so it can only SIGKILL. */
  closeNow(): void {
    for (const child of this.children) child.process.kill('SIGKILL')
    this.children.clear()
    if (!this.closed) rmSync(this.folder, { recursive: true, force: true })
    this.closed = true
  }
}

/** Polls `url` until it answers 2xx, the child exits, or `timeoutMs` passes. */
export async function waitUntilReady(
  url: string,
  child: Child,
  init: RequestInit = {},
  timeoutMs = 15_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs
  let exit: string | undefined
  void child.exited.then((code) => (exit = code))
  let last = 'no answer'
  while (Date.now() < deadline) {
    if (exit !== undefined) {
      throw new Error(
        `${child.name} exited (${exit}) before it was ready:\n${tailOf(child.stderrPath)}`,
      )
    }
    try {
      const response = await fetch(url, { ...init, signal: AbortSignal.timeout(1000) })
      await response.arrayBuffer()
      if (response.ok) return
      last = `HTTP ${response.status}`
    } catch (error) {
      last = error instanceof Error ? error.message : String(error)
    }
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  throw new Error(
    `${child.name} was not ready at ${url} after ${timeoutMs} ms (${last}):\n${tailOf(child.stderrPath)}`,
  )
}

/** Linux: `pid` and every process below it (a server may fork workers), or just `pid` without /proc. */
function processTree(pid: number): number[] {
  let entries: string[]
  try {
    entries = readdirSync('/proc').filter((name) => /^\d+$/.test(name))
  } catch {
    return [pid]
  }
  const children = new Map<number, number[]>()
  for (const entry of entries) {
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8')
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1])
      const list = children.get(ppid) ?? []
      list.push(Number(entry))
      children.set(ppid, list)
    } catch {
      // The process ended while we looked.
    }
  }
  const tree = [pid]
  for (let i = 0; i < tree.length; i++) tree.push(...(children.get(tree[i] ?? -1) ?? []))
  return tree
}

/**
 * Linux: the peak resident set (VmHWM) in bytes of `pid`, summed with its child processes' peaks when
 * it has forked workers; null where /proc is missing.
 */
export function peakRss(pid: number): number | null {
  let total: number | null = null
  for (const p of processTree(pid)) {
    try {
      const status = readFileSync(`/proc/${p}/status`, 'utf8')
      const match = /^VmHWM:\s+(\d+)\s+kB/m.exec(status)
      if (match?.[1] !== undefined) total = (total ?? 0) + Number(match[1]) * 1024
    } catch {
      // The process ended while we looked.
    }
  }
  return total
}

/**
 * Linux: CPU seconds (user+system) used so far by each thread of `pid`, summed by thread name
 * (`node` is the main thread; `libuv-worker` the thread pool; `V8 DefaultWorke` GC and compilers).
 * Empty where /proc is missing.
 */
export function threadCpuSeconds(pid: number): Map<string, number> {
  const out = new Map<string, number>()
  let tids: string[]
  try {
    tids = readdirSync(`/proc/${pid}/task`)
  } catch {
    return out
  }
  for (const tid of tids) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8')
      const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'))
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
      const seconds = (Number(fields[11]) + Number(fields[12])) / 100
      const key = tid === String(pid) ? 'main thread (event loop)' : name
      if (Number.isFinite(seconds)) out.set(key, (out.get(key) ?? 0) + seconds)
    } catch {
      // The thread ended while we looked.
    }
  }
  return out
}

/** Linux: the resident set (VmRSS) in bytes now of `pid` and the processes below it (a cluster's workers); null where it cannot be read. */
export function rssBytes(pid: number): number | null {
  let total: number | null = null
  // A cluster's primary and its workers: the resident set of the whole server.
  for (const p of processTree(pid)) {
    try {
      const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${p}/status`, 'utf8'))
      if (match?.[1] !== undefined) total = (total ?? 0) + Number(match[1]) * 1024
    } catch {
      // The process ended while we looked.
    }
  }
  return total
}

/**
 * Linux: user+system CPU seconds used so far by `pid` and (unless `withChildren` is false) its live
 * child processes (workers), or null where /proc is missing.
 */
export function cpuSeconds(pid: number, withChildren = true): number | null {
  let total: number | null = null
  for (const p of withChildren ? processTree(pid) : [pid]) {
    try {
      const stat = readFileSync(`/proc/${p}/stat`, 'utf8')
      // Fields after the command name (which may hold spaces), counted from field 3.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
      const ticks = Number(fields[11]) + Number(fields[12])
      // USER_HZ is 100 on every mainstream Linux build.
      if (Number.isFinite(ticks)) total = (total ?? 0) + ticks / 100
    } catch {
      // The process ended while we looked.
    }
  }
  return total
}

/**
 * Linux: user+system CPU seconds of this process's child processes that have exited and been reaped
 * (`cutime` + `cstime`), or null where /proc is missing. The difference over a run is the CPU of the
 * children that ended within it (the wrk loads), however short they lived.
 */
export function reapedChildrenCpuSeconds(): number | null {
  try {
    const stat = readFileSync('/proc/self/stat', 'utf8')
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    const ticks = Number(fields[13]) + Number(fields[14])
    return Number.isFinite(ticks) ? ticks / 100 : null
  } catch {
    return null
  }
}

/**
 * Linux: CPU seconds the whole machine has spent busy in processes (user, nice, system, steal), or null
 * where /proc is missing. Interrupt and softirq time is left out: on loopback the kernel's TCP receive
 * work runs as softirq, charged to no process, so it belongs to this benchmark's own traffic. With the
 * server's and the harness's share subtracted, what is left over a run is other load on the machine,
 * which makes that run's numbers suspect.
 */
export function machineBusySeconds(): number | null {
  // user, nice, system, steal
  return machineCpuSeconds([0, 1, 2, 7])
}

/**
 * Linux: CPU seconds the whole machine has spent idle (idle and iowait, summed over its cores), or
 * null where /proc is missing. Over a run, cores × seconds minus this is everything the machine did:
 * every process and the kernel's interrupt work, which `machineBusySeconds` leaves out.
 */
export function machineIdleSeconds(): number | null {
  // idle, iowait
  return machineCpuSeconds([3, 4])
}

/** The sum of the columns `columns` of /proc/stat's `cpu` line (a column the kernel lacks counts 0), in seconds. */
function machineCpuSeconds(columns: readonly number[]): number | null {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0] ?? ''
    const f = line.trim().split(/\s+/).slice(1).map(Number)
    const sum = columns.reduce((total, i) => total + (f[i] ?? 0), 0)
    return Number.isFinite(sum) ? sum / 100 : null
  } catch {
    return null
  }
}

/**
 * Waits, up to `maxSeconds`, for a second in which the machine is nearly idle (other work uses less
 * than `threshold` of a core), so a step does not start in the middle of someone else's build.
 * Resolves with the last measured load in cores (null where /proc is missing).
 */
export async function waitForQuiet(
  maxSeconds: number,
  onWait: (load: number, secondsLeft: number) => void,
  threshold = 0.1,
): Promise<number | null> {
  const deadline = Date.now() + maxSeconds * 1000
  for (;;) {
    const before = machineBusySeconds()
    const started = performance.now()
    await new Promise((resolve) => setTimeout(resolve, 1000))
    const after = machineBusySeconds()
    if (before === null || after === null) return null
    const load = (after - before) / ((performance.now() - started) / 1000)
    const left = Math.ceil((deadline - Date.now()) / 1000)
    if (load < threshold || left <= 0) return load
    onWait(load, left)
  }
}
