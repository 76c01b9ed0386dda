// Entry point of processes started by forkBench() in util.ts: imports a bench module,
// runs one of its exports while sampling RSS, and sends the result back over IPC.
import { samplePeakRss, collectGarbage, type ChildContext, type FromChild, type ToChild } from './util.js'

const inbox: unknown[] = []
const waiting: Array<(value: unknown) => void> = []

function reply (msg: FromChild, then?: () => void): void {
  if (process.send === undefined) throw new Error('bench/child.js must be started by forkBench()')
  process.send(msg, undefined, {}, () => { if (then !== undefined) then() })
}

const ctx: ChildContext = {
  report: (value) => { reply({ type: 'report', value }) },
  nextMessage: async () => {
    if (inbox.length > 0) return inbox.shift()
    return await new Promise<unknown>((resolve) => { waiting.push(resolve) })
  }
}

async function run (module: string, exportName: string, args: unknown): Promise<void> {
  const mod = await import(module) as Record<string, unknown>
  const fn = mod[exportName]
  if (typeof fn !== 'function') throw new Error(`${module} has no exported function ${exportName}`)
  collectGarbage()
  const { value, peakRss } = await samplePeakRss(async () => await (fn as (a: unknown, c: ChildContext) => Promise<unknown>)(args, ctx))
  // ru_maxrss is in kilobytes on Linux; it is the kernel's exact high-water mark.
  const maxRss = process.resourceUsage().maxRSS * 1024
  // Exit explicitly: a benchmark may leave sockets or db handles that keep node alive.
  reply({ type: 'done', value, peakRss, maxRss }, () => process.exit(0))
}

process.on('message', (raw) => {
  const msg = raw as ToChild
  if (msg.type === 'message') {
    const next = waiting.shift()
    if (next !== undefined) next(msg.value)
    else inbox.push(msg.value)
    return
  }
  run(msg.module, msg.exportName, msg.args).catch((err: unknown) => {
    const e = err instanceof Error ? err : new Error(String(err))
    reply({ type: 'error', message: e.message, ...(e.stack !== undefined ? { stack: e.stack } : {}) }, () => process.exit(1))
  })
})

// If the parent dies, there is nobody to report to.
process.on('disconnect', () => process.exit(2))
