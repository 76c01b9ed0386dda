/**
 * Multi-process soak: several nodes, each a child process with a Model on
 * classic-level in its own directory, replicating over the library's own
 * listen() and reconnecting connect(). A seeded schedule writes (a small key
 * space, so keys conflict, and writes on different nodes at once), cuts and
 * heals links, SIGKILLs nodes and restarts them on the same directory and port.
 * At the end every link is healed and the nodes must agree: the same entries,
 * the same winner (ts, source, value) per key, the same clock, and every
 * acknowledged write present or superseded by a later (ts, source) write.
 *
 * Short in `npm test`. `npm run soak` (SOAK_LONG=1) runs it long: SOAK_SECONDS
 * (default 90 there) or SOAK_ROUNDS, SOAK_NODES (default 5). SOAK_SEED=N replays a schedule
 * (the interleaving with real processes and sockets still varies from run to run).
 */
import { join } from 'node:path'
import test from 'tape'
import { compareStamps, seededRandom } from '../lib/index.js'
import { sleep, tempDir } from './helpers.js'
import { freePort } from './fixtures/net-helpers.js'
import { SoakNode, clockDifferences, fingerprint, type Fault, type NodeState, type Write } from './fixtures/soak-cluster.js'

const SEED = process.env.SOAK_SEED !== undefined ? Number(process.env.SOAK_SEED) : Math.floor(Math.random() * 2 ** 32)
const LONG = process.env.SOAK_LONG === '1'
const SECONDS = process.env.SOAK_SECONDS !== undefined
  ? Number(process.env.SOAK_SECONDS)
  : LONG && process.env.SOAK_ROUNDS === undefined ? 90 : undefined
const ROUNDS = process.env.SOAK_ROUNDS !== undefined ? Number(process.env.SOAK_ROUNDS) : SECONDS === undefined ? 250 : Infinity
const NODES = Number(process.env.SOAK_NODES ?? 5)
const KEYS = 8
/** Per round; about six kills in the short run. */
const KILL = 0.03

/** A link; the dialer keeps a reconnecting client to the peer unless the link is cut. */
interface Edge { dialer: SoakNode, peer: SoakNode, cut: boolean }

/** What the schedule did, for the report. */
interface Figures { rounds: number, writes: number, deletes: number, acked: number, kills: number, restarts: number, cuts: number, heals: number }

test(`a ${NODES}-node cluster under writes, partitions, SIGKILLs and restarts converges and keeps every acknowledged write (seed ${SEED})`, async (t) => {
  t.comment(`soak seed ${SEED} (replay with SOAK_SEED=${SEED})`)
  const random = seededRandom(SEED)
  const int = (n: number): number => Math.floor(random() * n)
  const pick = <T>(items: T[]): T | undefined => items.length === 0 ? undefined : items[int(items.length)]
  const faults: Fault[] = []
  const writes = new Map<number, Write>()
  const root = await tempDir(t, 'scuttledb-soak-')
  const nodes: SoakNode[] = []
  for (let i = 0; i < NODES; i++) nodes.push(new SoakNode(`n${i}`, join(root, `n${i}`), await freePort(), writes, faults))
  t.teardown(async () => { await Promise.all(nodes.map(async (n) => { await n.kill() })) })

  // A ring (so the healed network is connected) plus a few chords; a random end dials.
  const edges: Edge[] = []
  const addEdge = (a: SoakNode, b: SoakNode): void => {
    if (a === b || edges.some((e) => (e.dialer === a && e.peer === b) || (e.dialer === b && e.peer === a))) return
    edges.push(random() < 0.5 ? { dialer: a, peer: b, cut: false } : { dialer: b, peer: a, cut: false })
  }
  for (let i = 0; i < NODES; i++) addEdge(nodes[i], nodes[(i + 1) % NODES])
  for (let c = 0; c < Math.floor(NODES / 2); c++) addEdge(nodes[int(NODES)], nodes[int(NODES)])
  const dial = (e: Edge): void => { e.dialer.send({ op: 'dial', peer: e.peer.name, port: e.peer.port }) }
  const dialFrom = (node: SoakNode): void => { for (const e of edges) if (e.dialer === node && !e.cut) dial(e) }
  t.comment(`links: ${edges.map((e) => `${e.dialer.name}->${e.peer.name}`).join(' ')}`)

  await Promise.all(nodes.map(async (n) => { await n.start() }))
  for (const n of nodes) dialFrom(n)

  const figures: Figures = { rounds: 0, writes: 0, deletes: 0, acked: 0, kills: 0, restarts: 0, cuts: 0, heals: 0 }
  const restartAt = new Map<SoakNode, number>()
  const started = Date.now()
  const deadline = SECONDS === undefined ? Infinity : started + SECONDS * 1000
  let w = 0
  const issue = (node: SoakNode): void => {
    const remove = random() < 0.2
    const write: Write = { w: ++w, node: node.name, key: `k${int(KEYS)}`, value: remove ? null : { w, at: node.name } }
    writes.set(write.w, write)
    node.write(write)
    figures.writes++
    if (remove) figures.deletes++
  }
  for (let round = 0; round < ROUNDS && Date.now() < deadline && faults.length === 0; round++) {
    figures.rounds++
    for (const [node, at] of restartAt) {
      if (round < at) continue
      restartAt.delete(node)
      await node.start()
      figures.restarts++
      dialFrom(node)
    }
    const live = nodes.filter((n) => n.alive)
    const r = random()
    if (r < 0.6) {
      // A burst of writes spread over nodes, not awaited: concurrent writes to the same keys.
      for (let i = 1 + int(10); i > 0; i--) issue(pick(live) as SoakNode)
    } else if (r < 0.72) {
      const e = pick(edges.filter((x) => !x.cut))
      if (e !== undefined) {
        e.cut = true
        e.dialer.send({ op: 'cut', peer: e.peer.name })
        figures.cuts++
      }
    } else if (r < 0.84) {
      const e = pick(edges.filter((x) => x.cut))
      if (e !== undefined) {
        e.cut = false
        dial(e)
        figures.heals++
      }
    } else if (r < 0.84 + KILL && live.length > 2) {
      const node = pick(live) as SoakNode
      // Half the kills land in the middle of writes: some are committed and unacknowledged, some lost.
      if (random() < 0.5) {
        for (let i = 1 + int(20); i > 0; i--) issue(node)
        await sleep(int(8))
      }
      await node.kill()
      figures.kills++
      restartAt.set(node, round + 1 + int(15))
    }
    await sleep(5 + int(40))
  }
  const scheduleSeconds = (Date.now() - started) / 1000

  // Heal everything: restart the dead, reconnect every link (dial is idempotent in the node).
  for (const node of restartAt.keys()) {
    await node.start()
    figures.restarts++
  }
  restartAt.clear()
  for (const e of edges) {
    if (!e.cut) continue
    e.cut = false
    figures.heals++
  }
  for (const n of nodes) dialFrom(n)

  const healed = Date.now()
  const answered = await waitFor(async () => nodes.every((n) => n.pending.size === 0), 30_000)
  t.ok(answered, 'every write sent to a live node was answered')
  let states: NodeState[] = []
  const agreed = await waitFor(async () => {
    const got = await Promise.all(nodes.map(async (n) => await n.state()))
    if (got.some((s) => s === undefined)) return false
    states = got as NodeState[]
    const prints = states.map(fingerprint)
    return prints.every((p) => p.entries === prints[0].entries && p.winners === prints[0].winners && p.clock === prints[0].clock)
  }, 30_000)
  const convergeSeconds = (Date.now() - healed) / 1000
  figures.acked = [...writes.values()].filter((x) => x.ts !== undefined).length
  t.comment(`figures: ${JSON.stringify(figures)}, schedule ${scheduleSeconds.toFixed(1)} s, converged ${agreed ? 'in' : 'NOT within'} ${convergeSeconds.toFixed(1)} s`)

  t.deepEqual(faults, [], 'no node exited by itself, refused a write or acked with a foreign source')
  t.ok(agreed, `every node agrees on entries, winners and clock within 30 s of healing (seed ${SEED})`)
  t.equal(states.length, NODES, 'every node answered')
  if (states.length === NODES) {
    const prints = states.map(fingerprint)
    for (let i = 1; i < NODES; i++) {
      t.equal(prints[i].entries, prints[0].entries, `${nodes[i].name} has the same entries as n0`)
      t.equal(prints[i].winners, prints[0].winners, `${nodes[i].name} has the same winner (ts, source, value) per key as n0`)
      t.equal(prints[i].clock, prints[0].clock, `${nodes[i].name} has the same clock as n0 (compared order-independently)`)
    }
    const clocks = clockDifferences(states)
    if (clocks.length > 0) {
      t.comment(`node ids: ${nodes.map((n) => `${n.name}=${n.id}`).join(' ')}`)
      // The known core issue: a source's latest update, superseded everywhere before it
      // reached some node, is in no history, so that node's clock can never learn it.
      const held = (source: string, ts: number): boolean => states.some((st) => Object.values(st.winners).some(([wts, wsource]) => wts === ts && wsource === source))
      for (const [source, values] of clocks) {
        const latest = Math.max(...values.map((v) => v ?? -Infinity))
        t.comment(`clock of ${source} differs: ${values.map((v, i) => `${nodes[i].name}=${String(v)}`).join(' ')}; its latest update (ts ${latest}) is ${held(source, latest) ? 'held by some node' : 'superseded on every node (core issue (b))'}`)
      }
    }
    checkWrites(t, states[0], writes)
  }

  await Promise.all(nodes.map(async (n) => { await n.quit() }))
  t.deepEqual(faults, [], 'every node closed cleanly on quit and exited by itself (nothing left open)')
})

/** Every acknowledged write is present or superseded by a later (ts, source) write; no value appears from nowhere. */
function checkWrites (t: test.Test, state: NodeState, writes: Map<number, Write>): void {
  const acked = [...writes.values()].filter((x) => x.ts !== undefined) as Array<Required<Write>>
  const stamps = new Set(acked.map((x) => `${x.ts}|${x.source}`))
  t.equal(stamps.size, acked.length, 'every acknowledged write has its own (ts, source)')
  const problems: string[] = []
  const keys = new Set([...writes.values()].map((x) => x.key))
  for (const key of Object.keys(state.winners)) if (!keys.has(key)) problems.push(`${key}: a key nobody wrote`)
  for (const key of keys) {
    const best = acked.filter((x) => x.key === key).reduce<Required<Write> | undefined>((a, b) => a === undefined || compareStamps(b.ts, b.source, a.ts, a.source) > 0 ? b : a, undefined)
    const winner = Object.hasOwn(state.winners, key) ? state.winners[key] : undefined
    const entry = Object.hasOwn(state.entries, key) ? state.entries[key] : undefined
    if (winner !== undefined && JSON.stringify(entry ?? null) !== JSON.stringify(winner[2])) problems.push(`${key}: entry ${JSON.stringify(entry)} is not its winner's value ${JSON.stringify(winner[2])}`)
    if (best === undefined) {
      if (winner !== undefined && !issued(writes, key, winner[2])) problems.push(`${key}: winner ${JSON.stringify(winner)} was never written`)
      continue
    }
    if (winner === undefined) {
      problems.push(`${key}: acknowledged write ${best.w} (${best.ts}, ${best.source}) is lost: the key has no update`)
      continue
    }
    const order = compareStamps(winner[0], winner[1], best.ts, best.source)
    if (order < 0) problems.push(`${key}: acknowledged write ${best.w} (${best.ts}, ${best.source}) is lost under an older winner ${JSON.stringify(winner)}`)
    else if (order === 0 && JSON.stringify(winner[2]) !== JSON.stringify(best.value)) problems.push(`${key}: write ${best.w} has its stamp but value ${JSON.stringify(winner[2])}`)
    else if (order > 0 && !issued(writes, key, winner[2])) problems.push(`${key}: a later winner ${JSON.stringify(winner)} was never written`)
  }
  t.deepEqual(problems, [], `the final value of every key is its acknowledged write with the greatest (ts, source), or a later write (${acked.length} acknowledged writes, ${keys.size} keys)`)
}

/** True when some write to `key` carried `value` (a delete: null). */
function issued (writes: Map<number, Write>, key: string, value: unknown): boolean {
  if (value === null) return [...writes.values()].some((x) => x.key === key && x.value === null)
  const w = (value as { w?: unknown }).w
  const write = typeof w === 'number' ? writes.get(w) : undefined
  return write !== undefined && write.key === key && JSON.stringify(write.value) === JSON.stringify(value)
}

/** Poll `check` every 200 ms until it holds or `ms` pass; the caller asserts on the result. */
async function waitFor (check: () => Promise<boolean>, ms: number): Promise<boolean> {
  const end = Date.now() + ms
  for (;;) {
    if (await check()) return true
    if (Date.now() > end) return false
    await sleep(200)
  }
}
