// Helpers shared by every benchmark: timing, formatting, temp dirs, memory sampling
// and running one side of a benchmark in its own process.
import { fork, type ChildProcess } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

/** Starts a monotonic timer; the returned function gives the seconds elapsed since. */
export function startTimer (): () => number {
  const start = process.hrtime.bigint()
  return () => Number(process.hrtime.bigint() - start) / 1e9
}

/** Formats a rate with a k/M/G suffix: 452.3k/s. */
export function formatRate (perSecond: number, unit = '/s'): string {
  if (!Number.isFinite(perSecond)) return '-'
  const abs = Math.abs(perSecond)
  if (abs >= 1e9) return (perSecond / 1e9).toFixed(2) + 'G' + unit
  if (abs >= 1e6) return (perSecond / 1e6).toFixed(2) + 'M' + unit
  if (abs >= 1e3) return (perSecond / 1e3).toFixed(1) + 'k' + unit
  return perSecond.toFixed(1) + unit
}

/** Formats a byte count in MB (10^6), the unit memory goals are stated in. */
export function formatMB (bytes: number): string {
  return (bytes / 1e6).toFixed(1) + ' MB'
}

/** Creates a fresh directory under os.tmpdir(). */
export async function makeTempDir (prefix = 'scuttledb-bench-'): Promise<string> {
  return await mkdtemp(path.join(os.tmpdir(), prefix))
}

/** Removes a directory made by makeTempDir, refusing anything outside os.tmpdir(). */
export async function removeTempDir (dir: string): Promise<void> {
  // A guard, because a wrong argument here would delete real data recursively.
  const rel = path.relative(os.tmpdir(), dir)
  if (rel === '' || rel.startsWith('..') || path.isAbsolute(rel)) {
    throw new Error(`refusing to remove ${dir}: not under ${os.tmpdir()}`)
  }
  await rm(dir, { recursive: true, force: true })
}

/** Runs fn with a fresh temp dir that is removed afterwards, even on failure. */
export async function withTempDir<T> (fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await makeTempDir()
  try {
    return await fn(dir)
  } finally {
    await removeTempDir(dir)
  }
}

/** Runs a full garbage collection when node runs with --expose-gc, so runs start level. */
export function collectGarbage (): void {
  const gc: unknown = (globalThis as { gc?: unknown }).gc
  if (typeof gc === 'function') gc()
}

/** The value fn resolved with and the highest RSS seen while it ran. */
export interface PeakRss<T> {
  value: T
  peakRss: number
}

/**
 * Samples this process's RSS every intervalMs while fn runs. Synchronous stretches
 * of fn delay samples, so RSS is also sampled at the start and the end.
 */
export async function samplePeakRss<T> (fn: () => Promise<T>, intervalMs = 20): Promise<PeakRss<T>> {
  let peak = process.memoryUsage.rss()
  const sample = (): void => { peak = Math.max(peak, process.memoryUsage.rss()) }
  const timer = setInterval(sample, intervalMs)
  try {
    const value = await fn()
    sample()
    return { value, peakRss: peak }
  } finally {
    clearInterval(timer)
  }
}

/** Handed to a function run by forkBench, to talk to the parent while it runs. */
export interface ChildContext {
  /** Sends an intermediate value (a port, a ready signal) to the parent. */
  report (value: unknown): void
  /** Resolves with the next value the parent sends with ChildHandle.send(). */
  nextMessage (): Promise<unknown>
}

/** A function a child process can run: exported by name from a compiled bench module. */
export type ChildFn<A, R> = (args: A, ctx: ChildContext) => Promise<R>

/** What a child process hands back when its function has resolved. */
export interface ChildOutcome<R> {
  value: R
  pid: number
  /** Highest sampled RSS, every 20 ms, over the whole run of the function. */
  peakRss: number
  /** The kernel's high-water mark for the child (getrusage maxrss), in bytes. */
  maxRss: number
}

/** A running child: its reports, a way to message it, and its outcome. */
export interface ChildHandle<R> {
  readonly pid: number
  nextReport (): Promise<unknown>
  send (value: unknown): void
  readonly done: Promise<ChildOutcome<R>>
  kill (): void
}

/** Messages on the IPC channel; child.ts speaks the other half. */
export type ToChild =
  | { type: 'run', module: string, exportName: string, args: unknown }
  | { type: 'message', value: unknown }
export type FromChild =
  | { type: 'report', value: unknown }
  | { type: 'done', value: unknown, peakRss: number, maxRss: number }
  | { type: 'error', message: string, stack?: string }

const CHILD_ENTRY = fileURLToPath(new URL('./child.js', import.meta.url))

/**
 * Forks node on dist-test/bench/child.js, which imports `module` (a path relative to
 * dist-test/bench/, e.g. './baselines.js', or a file URL) and runs its export
 * `exportName(args, ctx)`. Each side of a benchmark in its own process keeps its
 * memory figure free of the other side's heap.
 */
export function forkBench<A, R> (module: string, exportName: string, args: A): ChildHandle<R> {
  const moduleUrl = new URL(module, import.meta.url).href
  const child: ChildProcess = fork(CHILD_ENTRY, [], {
    // BENCH_PROFILE=<dir>: each child writes a CPU profile there (node --cpu-prof).
    // BENCH_NODE_FLAGS: more flags for the children, e.g. --trace-gc (NODE_OPTIONS refuses some).
    execArgv: ['--expose-gc', ...(process.env.BENCH_PROFILE !== undefined && process.env.BENCH_PROFILE !== '' ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROFILE}`] : []), ...(process.env.BENCH_NODE_FLAGS ?? '').split(' ').filter(Boolean)],
    serialization: 'advanced',
    stdio: ['ignore', 'inherit', 'inherit', 'ipc']
  })
  const reports: unknown[] = []
  const waiting: Array<(value: unknown) => void> = []
  let settled = false
  const done = new Promise<ChildOutcome<R>>((resolve, reject) => {
    child.on('message', (raw) => {
      const msg = raw as FromChild
      if (msg.type === 'report') {
        const next = waiting.shift()
        if (next !== undefined) next(msg.value)
        else reports.push(msg.value)
      } else if (msg.type === 'done') {
        settled = true
        resolve({ value: msg.value as R, pid: child.pid ?? -1, peakRss: msg.peakRss, maxRss: msg.maxRss })
      } else {
        settled = true
        const err = new Error(`child ${exportName}: ${msg.message}`)
        if (msg.stack !== undefined) err.stack = msg.stack
        reject(err)
      }
    })
    child.on('error', reject)
    child.on('exit', (code, signal) => {
      if (!settled) reject(new Error(`child ${exportName} exited early (code ${String(code)}, signal ${String(signal)})`))
    })
  })
  // The caller may only await a report; an early failure must still surface there.
  done.catch(() => {})
  const send = (msg: ToChild): void => { if (child.connected) child.send(msg) }
  send({ type: 'run', module: moduleUrl, exportName, args })
  return {
    pid: child.pid ?? -1,
    done,
    nextReport: async () => {
      if (reports.length > 0) return reports.shift()
      return await Promise.race([
        new Promise<unknown>((resolve) => { waiting.push(resolve) }),
        done.then(() => { throw new Error(`child ${exportName} finished without reporting`) })
      ])
    },
    send: (value) => { send({ type: 'message', value }) },
    kill: () => { if (child.exitCode === null) child.kill() }
  }
}

/** Runs one exported function in a child process and resolves with its outcome. */
export async function runInChild<A, R> (module: string, exportName: string, args: A): Promise<ChildOutcome<R>> {
  return await forkBench<A, R>(module, exportName, args).done
}
