// The other way a scuttledb network spreads an update: persistent live
// connections, as `scuttledb serve` keeps them. Every node connects to the 8
// random peers of its view (the same seeded views as scale-sim.ts) with a real
// replication stream each way over a link of fixed delay; once every link has
// synced, node 0 writes one update, and the live tails forward it along every
// connection. Measured: the hops it needed (graph distance from the writer, the
// lower bound the live protocol meets), the time until every node had it in
// link delays, and the frames and bytes each node sent for it.
import { pipeline } from 'node:stream'
import { once } from 'node:events'
import { MemoryLevel } from 'memory-level'
import { Model } from '../lib/model.js'
import { seededRandom } from '../lib/conformance.js'
import { Wire } from './scale-sim.js'

/** What to simulate. */
export interface LiveOptions {
  nodes: number
  /** Peers each node dials. Default 8. */
  view?: number
  /** Delay of every chunk on every link, ms. Default 20. */
  delayMs?: number
  seed: number
  /** Give up waiting for the update after this many ms. Default 60000. */
  timeoutMs?: number
}

/** What a live run measured. */
export interface LiveResult {
  nodes: number
  view: number
  /** Connections (undirected). */
  links: number
  /** The largest graph distance from the writer: the fewest hops an update can take to reach everyone. */
  eccentricity: number
  /** Time until the last node had it, in link delays (hops plus processing). */
  delays: number
  /** Nodes that had it when the wait ended (all of them unless it timed out). */
  reached: number
  messagesPerNode: number
  bytesPerNode: number
}

/** Run one live simulation. */
export async function simulateLive (options: LiveOptions): Promise<LiveResult> {
  const { nodes: n, seed, view = 8, delayMs = 20, timeoutMs = 60_000 } = options
  const random = seededRandom(seed)
  const pick = (k: number): number => Math.floor(random() * k)
  const dbs = Array.from({ length: n }, () => new MemoryLevel<string, Buffer>())
  const models = dbs.map((db, i) => new Model({ db, id: `n${i}` }))
  await Promise.all(models.map(async (m) => { await m.open() }))
  const edges = new Set<string>()
  const neighbours: number[][] = models.map(() => [])
  for (let i = 0; i < n; i++) {
    const chosen = new Set<number>()
    while (chosen.size < Math.min(view, n - 1)) {
      const j = pick(n)
      if (j !== i) chosen.add(j)
    }
    for (const j of chosen) {
      const key = i < j ? `${i}-${j}` : `${j}-${i}`
      if (edges.has(key)) continue
      edges.add(key)
      neighbours[i].push(j)
      neighbours[j].push(i)
    }
  }
  // Breadth-first distances from the writer.
  const distance = new Array<number>(n).fill(-1)
  distance[0] = 0
  for (let queue = [0]; queue.length > 0;) {
    const next: number[] = []
    for (const i of queue) for (const j of neighbours[i]) if (distance[j] < 0) { distance[j] = distance[i] + 1; next.push(j) }
    queue = next
  }
  const wires: Array<{ from: number, wire: Wire }> = []
  const streams: Array<{ destroy: () => void }> = []
  const synced: Array<Promise<unknown>> = []
  for (const key of edges) {
    const [i, j] = key.split('-').map(Number)
    const a = models[i].createStream()
    const b = models[j].createStream()
    const ab = new Wire(() => delayMs, -1)
    const ba = new Wire(() => delayMs, -1)
    wires.push({ from: i, wire: ab }, { from: j, wire: ba })
    streams.push(a, b)
    synced.push(once(a, 'sync'), once(b, 'sync'))
    pipeline(a, ab, b, ba, a, () => {})
  }
  try {
    await Promise.all(synced)
    const before = wires.map(({ wire }) => [wire.frames, wire.bytes])
    const arrived = new Array<number>(n).fill(-1)
    let reached = 0
    let news = Infinity
    const start = Date.now()
    models.forEach((m, i) => {
      m.on('update', (_change: unknown, ts: number, source: string) => {
        if (source === 'n0' && ts >= news && arrived[i] < 0) {
          arrived[i] = Date.now() - start
          reached++
        }
      })
    })
    // The update reaches another node only after a link delay, well after the write resolves here.
    await models[0].set('news', 'hello')
    news = models[0].clock.n0 ?? Infinity
    if (arrived[0] < 0) { arrived[0] = 0; reached++ }
    const end = Date.now() + timeoutMs
    while (reached < n && Date.now() < end) await new Promise((resolve) => setTimeout(resolve, 10))
    // Let the last forwards (to nodes that already had it) go out before counting.
    await new Promise((resolve) => setTimeout(resolve, 4 * delayMs))
    const frames = new Float64Array(n)
    const bytes = new Float64Array(n)
    wires.forEach(({ from, wire }, k) => {
      frames[from] += wire.frames - before[k][0]
      bytes[from] += wire.bytes - before[k][1]
    })
    const sum = (xs: Float64Array): number => xs.reduce((s, x) => s + x, 0)
    return {
      nodes: n,
      view,
      links: edges.size,
      eccentricity: Math.max(...distance),
      delays: Math.max(...arrived) / delayMs,
      reached,
      messagesPerNode: sum(frames) / n,
      bytesPerNode: sum(bytes) / n
    }
  } finally {
    for (const s of streams) s.destroy()
    await Promise.all(models.map(async (m) => { await m.close() }))
    await Promise.all(dbs.map(async (db) => { await db.close() }))
  }
}
