// The workloads of bench/security.ts: signed vs unsigned local writes and initial
// sync. Each is an exported function of JSON arguments, run in a fresh child
// process (runInChild), as an application would run the library. Self-contained
// (only committed bench helpers), so it does not depend on bench/scuttledb-*.ts.
import net from 'node:net'
import { once } from 'node:events'
import path from 'node:path'
import { performance, type EventLoopUtilization } from 'node:perf_hooks'
import { pipeline } from 'node:stream'
import { generateKeys, Model, securityOptions, type ScuttlebuttOptions, type SecurityOptions } from '../lib/index.js'
import { modelKey, modelValue } from './fixtures.js'
import type { BenchResult } from './registry.js'
import { collectGarbage, startTimer, withTempDir } from './util.js'

/** Sets in flight, awaited in rounds (as bench/scuttledb.ts does, so the figures compare). */
const WINDOW = 1000

export interface SecurityBenchOptions {
  n: number
  /** Sign (writes) / sign the source and verify on the receiver (sync). */
  signed: boolean
  keyType?: 'ed25519' | 'rsa'
  verifyOn?: SecurityOptions['verifyOn']
  name: string
}

function secured (options: SecurityBenchOptions): Partial<ScuttlebuttOptions> {
  if (!options.signed) return {}
  const keys = generateKeys({ type: options.keyType ?? 'ed25519', modulusLength: 2048 })
  return securityOptions(keys, options.verifyOn === undefined ? {} : { verifyOn: options.verifyOn })
}

async function open (dir: string, extra: Partial<ScuttlebuttOptions>): Promise<Model> {
  const model = new Model({ db: dir, ...extra })
  await model.open()
  return model
}

async function fill (model: Model, n: number): Promise<void> {
  for (let i = 0; i < n; i += WINDOW) {
    const round: Array<Promise<void>> = []
    for (let j = i; j < Math.min(n, i + WINDOW); j++) round.push(model.set(modelKey(j), modelValue(j)))
    await Promise.all(round)
  }
}

/** Durable local writes on classic-level: n sets, WINDOW in flight; signed ones sign each update on the main thread. */
export async function securityWrites (options: SecurityBenchOptions): Promise<BenchResult> {
  return await withTempDir(async (dir) => {
    const model = await open(path.join(dir, 'db'), secured(options))
    let seconds: number
    try {
      collectGarbage()
      const elapsed = startTimer()
      await fill(model, options.n)
      seconds = elapsed()
    } finally {
      await model.close()
    }
    if (model.stats.committed !== options.n) throw new Error(`committed ${model.stats.committed} of ${options.n}`)
    return { name: options.name, ops: options.n, seconds, opsPerSec: options.n / seconds, unit: 'entries', signed: options.signed }
  })
}

/**
 * Initial sync of a fresh peer over loopback TCP, both on classic-level in this
 * process: the source is filled untimed (signed or not); the time runs from
 * connect until the fresh side's `sync`, i.e. until every update is verified
 * (when signed) and committed. Also reports the process's CPU per update (all
 * threads) and the main thread's event loop utilisation over that time.
 */
export async function securitySync (options: SecurityBenchOptions): Promise<BenchResult> {
  return await withTempDir(async (dir) => {
    const a = await open(path.join(dir, 'a'), secured(options))
    await fill(a, options.n)
    const b = await open(path.join(dir, 'b'), secured(options))
    const server = net.createServer((socket) => {
      const s = a.createStream()
      pipeline(s, socket, s, () => {})
    })
    server.listen(0, '127.0.0.1')
    await once(server, 'listening')
    let seconds: number
    let cpu: NodeJS.CpuUsage
    let elu: EventLoopUtilization
    let socket: net.Socket | undefined
    try {
      collectGarbage()
      const cpuBefore = process.cpuUsage()
      const eluBefore = performance.eventLoopUtilization()
      const elapsed = startTimer()
      socket = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1')
      const s = b.createStream()
      const synced = once(s, 'sync')
      pipeline(s, socket, s, () => {})
      await synced
      seconds = elapsed()
      cpu = process.cpuUsage(cpuBefore)
      elu = performance.eventLoopUtilization(eluBefore)
    } finally {
      socket?.destroy()
      server.close()
      await Promise.all([a.close(), b.close()])
    }
    if (b.stats.committed !== options.n) throw new Error(`synced ${b.stats.committed} of ${options.n} (rejected ${b.stats.rejected})`)
    return {
      name: options.name,
      ops: options.n,
      seconds,
      opsPerSec: options.n / seconds,
      unit: 'updates',
      signed: options.signed,
      rejected: b.stats.rejected,
      // CPU of every thread (both peers, verification workers, storage) per update, and how busy
      // the main thread was: on a shared machine these move less than the rate does.
      cpuUsPerUpdate: (cpu.user + cpu.system) / options.n,
      mainElu: elu.utilization
    }
  })
}
