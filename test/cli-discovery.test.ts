// Peer exchange: `scuttledb serve` nodes told a single seed address learn the
// rest of the network from their peers, and stay connected when nodes die.
// Real processes on 127.0.0.1, classic-level on disk, SIGKILL.
// DISCOVERY_NODES sets the network size (default 20), DISCOVERY_SEED the kill choice.
import { join } from 'node:path'
import test from 'tape'
import { generateKeyFile } from '../lib/index.js'
import { seededRandom } from '../lib/conformance.js'
import { sleep, tempDir, until } from './helpers.js'
import { http, startNode, type NodeProcess } from './fixtures/net-helpers.js'

const NODES = Number(process.env.DISCOVERY_NODES ?? 20)
const KILL = Math.min(5, Math.floor(NODES / 4))
const SEED = Number(process.env.DISCOVERY_SEED ?? Date.now() % 100_000)
/** Generous: 20 processes share two cores in CI. */
const CONVERGE_MS = 45_000

/** The keys each node holds, or undefined when it does not answer. */
async function keysOf (node: NodeProcess): Promise<Set<string> | undefined> {
  try {
    const { status, body } = await http(node.http, 'GET', '/kv')
    if (status !== 200) return undefined
    return new Set((body as { items: Array<{ key: string }> }).items.map((i) => i.key))
  } catch {
    return undefined
  }
}

/** Poll until every node holds every key; resolves to the nodes still missing some (empty: converged). */
async function converge (nodes: NodeProcess[], keys: string[], ms: number): Promise<number[]> {
  const end = Date.now() + ms
  for (;;) {
    const missing: number[] = []
    await Promise.all(nodes.map(async (node, i) => {
      const held = await keysOf(node)
      if (held === undefined || keys.some((k) => !held.has(k))) missing.push(i)
    }))
    if (missing.length === 0 || Date.now() > end) return missing.sort((a, b) => a - b)
    await sleep(250)
  }
}

async function status (node: NodeProcess): Promise<{ discovery: { known: number }, peers: Array<{ discovered?: boolean, state: string }> }> {
  return (await http(node.http, 'GET', '/status')).body as never
}

test(`${NODES} nodes each told one seed address all converge, and still do after ${KILL} of them (the seed included) are killed`, async (t) => {
  t.comment(`seed ${SEED} (DISCOVERY_SEED=${SEED} to replay)`)
  const random = seededRandom(SEED)
  const opts = ['--max-peers', '3', '--rotate-peers', '3000']
  const seed = await startNode(t, opts)
  // Everyone is told only the seed; they start together, so early joiners learn the later ones from their peers.
  const rest = await Promise.all(Array.from({ length: NODES - 1 }, async () => await startNode(t, [...opts, '--peer', `127.0.0.1:${seed.port}`])))
  const nodes = [seed, ...rest]
  const started = Date.now()
  t.comment(`${NODES} nodes ready`)

  const writers = [0, 1, Math.floor(NODES / 2), NODES - 1]
  await Promise.all(writers.map(async (i) => {
    const res = await http(nodes[i].http, 'PUT', `/kv/before-${i}`, i)
    t.equal(res.status, 200, `node ${i} took a write`)
  }))
  const before = writers.map((i) => `before-${i}`)
  t.deepEqual(await converge(nodes, before, CONVERGE_MS), [], `all ${NODES} nodes hold every write`)
  t.comment(`converged ${Date.now() - started} ms after start (for the record, not asserted)`)

  const states = await Promise.all(nodes.map(status))
  t.ok(states.every((s) => s.discovery.known >= 2), 'every node learned addresses beyond its seed')
  t.ok(states.slice(1).some((s) => s.peers.some((p) => p.discovered === true && p.state === 'synced')), 'nodes dialed peers they learned of')
  const metrics = await (await fetch(`${nodes[1].http}/metrics`)).text()
  t.ok(/^scuttledb_known_peers [1-9]\d*$/m.test(metrics) && /^scuttledb_discovered_peers \d+$/m.test(metrics), 'GET /metrics counts the address book and the discovered connections')

  // The seed and KILL - 1 others, picked by the seed of this run.
  const others = Array.from({ length: NODES - 1 }, (_, i) => i + 1)
  const victims = [0]
  while (victims.length < KILL) victims.push(others.splice(Math.floor(random() * others.length), 1)[0])
  t.comment(`killing nodes ${victims.join(', ')}`)
  await Promise.all(victims.map(async (i) => { await nodes[i].stop('SIGKILL') }))
  const survivors = nodes.filter((_, i) => !victims.includes(i))

  const late = [0, Math.floor(survivors.length / 2), survivors.length - 1]
  await Promise.all(late.map(async (i) => {
    const res = await http(survivors[i].http, 'PUT', `/kv/after-${i}`, i)
    t.equal(res.status, 200, `survivor ${i} took a write`)
  }))
  const after = [...before, ...late.map((i) => `after-${i}`)]
  const killed = Date.now()
  t.deepEqual(await converge(survivors, after, CONVERGE_MS), [], `all ${survivors.length} survivors hold every write`)
  t.comment(`survivors converged ${Date.now() - killed} ms after the kill (for the record, not asserted)`)
  t.deepEqual((await Promise.all(survivors.map(async (n) => await n.stop()))).filter((c) => c !== 0), [], 'every survivor exits 0')
})

test('nodes with --key discover each other by signed entries: two told one seed replicate after the seed is killed', async (t) => {
  const dir = await tempDir(t)
  const key = async (name: string): Promise<string> => {
    await generateKeyFile(join(dir, name))
    return join(dir, name)
  }
  const opts = ['--max-peers', '3']
  const seed = await startNode(t, [...opts, '--key', await key('s.key')])
  const [b, c] = await Promise.all([
    startNode(t, [...opts, '--key', await key('b.key'), '--peer', `127.0.0.1:${seed.port}`]),
    startNode(t, [...opts, '--key', await key('c.key'), '--peer', `127.0.0.1:${seed.port}`])
  ])
  const linked = async (): Promise<boolean> => {
    const s = (await http(b.http, 'GET', '/status')).body as { peers: Array<{ id: string | null, state: string }> }
    return s.peers.some((p) => p.id === c.id && p.state === 'synced')
  }
  t.ok(await until(linked, 20_000), 'b is connected to c, which it learned of from the seed')
  await seed.stop('SIGKILL')
  t.equal((await http(b.http, 'PUT', '/kv/signed', 1)).status, 200, 'b took a write')
  t.deepEqual(await converge([c], ['signed'], CONVERGE_MS), [], 'c has it without the seed')
  t.deepEqual(await Promise.all([b.stop(), c.stop()]), [0, 0], 'both exit 0')
})
