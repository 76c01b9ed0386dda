import net from 'node:net'
import { once } from 'node:events'
import test from 'tape'
import { sleep, until } from './helpers.js'
import { freePort, http, runCli, startNode, type NodeProcess } from './fixtures/net-helpers.js'

async function put (node: NodeProcess, key: string, value: unknown): Promise<void> {
  const res = await http(node.http, 'PUT', `/kv/${encodeURIComponent(key)}`, value)
  if (res.status !== 200) throw new Error(`PUT ${key}: ${res.status}`)
}

async function has (node: NodeProcess, key: string, value: unknown): Promise<boolean> {
  return await until(async () => {
    const res = await http(node.http, 'GET', `/kv/${encodeURIComponent(key)}`)
    return res.status === 200 && JSON.stringify(res.body) === JSON.stringify(value)
  }, 10_000)
}

test('serve: three nodes joined with --peer in a line replicate both ways, and exit 0 on SIGTERM', async (t) => {
  const a = await startNode(t)
  const b = await startNode(t, ['--peer', `127.0.0.1:${a.port}`])
  const c = await startNode(t, ['--peer', `127.0.0.1:${b.port}`])
  t.ok(a.port > 0 && a.http.startsWith('http://127.0.0.1:'), 'the node printed where it listens')
  await put(a, 'from-a', 1)
  await put(c, 'from-c', { deep: [true] })
  t.ok(await has(c, 'from-a', 1), 'a write on the first node reaches the third through the second')
  t.ok(await has(a, 'from-c', { deep: [true] }), 'a write on the third reaches the first')
  t.ok(await has(b, 'from-c', { deep: [true] }), 'and the middle one holds it too')
  const status = (await http(b.http, 'GET', '/status')).body as { id: string, synced: boolean, peers: Array<{ direction: string, state: string, id: string | null }> }
  t.equal(status.id, b.id, '/status names the node')
  t.deepEqual(status.peers.map((p) => p.direction).sort(), ['incoming', 'outgoing'], 'the middle node sees one peer each way')
  t.ok(status.peers.some((p) => p.id === a.id), 'the outgoing peer is identified by its id')
  t.deepEqual(await Promise.all([c.stop(), b.stop(), a.stop()]), [0, 0, 0], 'every node exits 0 on SIGTERM')
  t.ok(/SIGTERM: shutting down/.test(a.log()) && /stopped/.test(a.log()), 'the log says it shut down')
})

test('serve: a node killed with SIGKILL keeps its acknowledged writes and catches up when restarted', async (t) => {
  const a = await startNode(t)
  const b = await startNode(t, ['--peer', `127.0.0.1:${a.port}`])
  for (let i = 0; i < 20; i++) await put(b, `b${i}`, i)
  t.equal(await b.stop('SIGKILL'), null, 'the node was killed')
  await put(a, 'while-b-was-dead', 'hello')
  const again = await startNode(t, ['--peer', `127.0.0.1:${a.port}`], { db: b.db })
  t.equal(again.id, b.id, 'the restarted node has the same id')
  t.ok(await has(again, 'b19', 19), 'every write acknowledged before the kill is still there')
  t.ok(await has(again, 'while-b-was-dead', 'hello'), 'it caught up with what was written while it was dead')
  t.ok(await has(a, 'b19', 19), 'the peer holds the killed node\'s writes')
})

test('serve: writes made while a peer was down reach it when it comes back (the dialer reconnects)', async (t) => {
  const port = await freePort()
  const a = await startNode(t, ['--port', String(port)])
  const b = await startNode(t, ['--peer', `127.0.0.1:${port}`])
  await put(a, 'first', 1)
  t.ok(await has(b, 'first', 1), 'connected and replicating')
  t.equal(await a.stop(), 0, 'the peer went down cleanly')
  await put(b, 'while-a-was-down', 2)
  const back = await startNode(t, ['--port', String(port)], { db: a.db })
  t.ok(await has(back, 'while-a-was-down', 2), 'the write reached the peer once it was back')
  t.ok(await until(async () => ((await http(b.http, 'GET', '/status')).body as { synced: boolean }).synced, 10_000), 'the dialer reports synced again')
  t.ok(/unreachable/.test(b.log()), 'the dialer logged the outage')
})

test('serve: a second signal exits at once, and the acknowledged writes survive it', async (t) => {
  const a = await startNode(t)
  await put(a, 'acknowledged', true)
  // A request that never finishes keeps the shutdown waiting (for its grace period).
  const hanging = net.connect(Number(new URL(a.http).port), '127.0.0.1')
  hanging.on('error', () => {})
  hanging.write('PUT /kv/slow HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"a"')
  await once(hanging, 'connect')
  await sleep(200)
  a.child.kill('SIGINT')
  t.ok(await until(() => a.log().includes('SIGINT: shutting down')), 'the first signal starts the shutdown')
  const code = await a.stop('SIGINT')
  t.equal(code, 130, 'the second SIGINT exits at once with 130')
  hanging.destroy()
  const got = await runCli(['get', 'acknowledged', '--db', a.db])
  t.equal(got.stdout.trim(), 'true', 'the acknowledged write is on disk')
})

test('serve: a port in use, a locked database and bad addresses fail with clear, coded errors', async (t) => {
  const a = await startNode(t)
  const busy = await runCli(['serve', '--db', `${a.db}-other`, '--port', String(a.port), '--http', 'off'])
  t.equal(busy.code, 1, 'a port in use exits 1')
  t.ok(/already in use.*SCUTTLEDB_ADDRESS_IN_USE/.test(busy.stderr), `it says so (${busy.stderr.trim()})`)
  const locked = await runCli(['serve', '--db', a.db, '--port', '0', '--http', 'off'])
  t.equal(locked.code, 1, 'a locked database exits 1')
  t.ok(/locked by another process.*SCUTTLEDB_DATABASE_LOCKED/.test(locked.stderr), `it says so (${locked.stderr.trim()})`)
  const lockedGet = await runCli(['get', 'x', '--db', a.db])
  t.ok(/--node/.test(lockedGet.stderr), 'a client command on a locked database points at --node')
  for (const args of [['--peer', 'nonsense'], ['--peer', '127.0.0.1:99999'], ['--port', 'abc'], ['--http', '70000']]) {
    const bad = await runCli(['serve', '--db', `${a.db}-bad`, ...args])
    t.equal(bad.code, 2, `${args.join(' ')} is a usage error (exit 2)`)
    t.ok(/SCUTTLEDB_BAD_ADDRESS/.test(bad.stderr), `${args.join(' ')} names SCUTTLEDB_BAD_ADDRESS`)
  }
  const host = await runCli(['serve', '--db', `${a.db}-host`, '--host', '203.0.113.7', '--port', '0', '--http', 'off'])
  t.ok(host.code !== 0 && /SCUTTLEDB_BAD_ADDRESS/.test(host.stderr), 'an address this machine does not have is SCUTTLEDB_BAD_ADDRESS')
  const unknown = await runCli(['serve', '--nope'])
  t.equal(unknown.code, 2, 'an unknown option exits 2')
  t.ok(/SCUTTLEDB_USAGE/.test(unknown.stderr), 'and names SCUTTLEDB_USAGE')
  t.equal(await a.stop(), 0, 'the running node was not disturbed')
})
