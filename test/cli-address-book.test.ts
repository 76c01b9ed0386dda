// The peer-exchange address book against a hostile peer: only addresses of the
// allowed shape, bounded in size, signed entries only with keys, dead and
// expired entries gone. Then the wire: a malformed exchange is refused and the
// node goes on; a --peer that does not speak peer exchange still replicates.
import net from 'node:net'
import test from 'tape'
import { generateKeys, listen } from '../lib/index.js'
import { AddressBook, BOOK_CAPACITY, MAX_ENTRIES, MAX_FUTURE_MS, ownEntry, parseAddress, toWire } from '../lib/cli/address-book.js'
import { MAGIC } from '../lib/cli/peer-exchange.js'
import { seededRandom } from '../lib/conformance.js'
import { diskModel, sleep, until } from './helpers.js'
import { freePort, http, startNode } from './fixtures/net-helpers.js'

const HOUR = 3_600_000

test('only tcp:// or tls:// host:port addresses of the allowed shape are dialable', (t) => {
  for (const good of ['tcp://127.0.0.1:4100', 'tls://node-1.example.org:443', 'tcp://[::1]:4100', 'tcp://localhost:1']) {
    t.ok(parseAddress(good) !== undefined, `${good} is an address`)
  }
  const bad = ['http://127.0.0.1:80', '127.0.0.1:4100', 'tcp://127.0.0.1:0', 'tcp://127.0.0.1:65536', 'tcp://0.0.0.0:4100',
    'tcp://[::]:4100', 'tcp://300.1.1.1:4100', 'tcp://a b:1', 'tcp://user@host:1', 'tcp://host:1/path', 'tcp://-host:1',
    `tcp://${'a'.repeat(400)}:1`, 'unix:///tmp/sock', 'tcp://host:1\n', 42, null, ['tcp://127.0.0.1:1']]
  for (const b of bad) t.equal(parseAddress(b), undefined, `${JSON.stringify(b)} is refused`)
  t.end()
})

test('a flood of entries is bounded: at most MAX_ENTRIES read per message and BOOK_CAPACITY held', (t) => {
  const now = 1_000_000_000_000
  const book = new AddressBook({ self: 'me', ttl: HOUR, signed: false, now: () => now })
  let total = 0
  for (let round = 0; round < 100; round++) {
    const flood = Array.from({ length: 1000 }, (_, i) => [`id-${round}-${i}`, `tcp://10.0.${round}.${i % 250}:${1000 + i}`, now])
    total += book.merge(flood)
  }
  t.equal(total, 100 * MAX_ENTRIES, 'only the first MAX_ENTRIES of each message are looked at')
  t.equal(book.size, BOOK_CAPACITY, 'the book holds at most BOOK_CAPACITY')
  t.end()
})

test('malformed, self, future and expired entries are dropped; a newer entry replaces an older one', (t) => {
  let now = 1_000_000_000_000
  const book = new AddressBook({ self: 'me', ttl: HOUR, signed: false, now: () => now })
  const added = book.merge([
    ['me', 'tcp://127.0.0.1:1', now],
    ['a', 'tcp://127.0.0.1:2', now + MAX_FUTURE_MS + 1],
    ['b', 'tcp://127.0.0.1:3', now - HOUR - 1],
    ['c', 'http://127.0.0.1:4', now],
    ['d', 'tcp://127.0.0.1:5', 'yesterday'],
    ['', 'tcp://127.0.0.1:6', now],
    ['e e', 'tcp://127.0.0.1:7', now],
    { id: 'f' },
    ['g', 'tcp://127.0.0.1:8', now - 10]
  ])
  t.equal(added, 1, 'only the well-formed, current entry of another node is taken')
  book.merge([['g', 'tcp://127.0.0.1:9', now - 20]])
  t.equal(book.get('g')?.address, 'tcp://127.0.0.1:8', 'an older entry does not replace a newer one')
  book.merge([['g', 'tcp://127.0.0.1:9', now]])
  t.equal(book.get('g')?.address, 'tcp://127.0.0.1:9', 'a newer one does')
  now += HOUR + 1
  t.equal(book.size, 0, 'an entry not heard of for the ttl expires')
  t.end()
})

test('a dead address stays forgotten when relayed again, and comes back when its owner says something newer', (t) => {
  const now = 1_000_000_000_000
  const book = new AddressBook({ self: 'me', ttl: HOUR, signed: false, now: () => now })
  book.merge([['a', 'tcp://127.0.0.1:2', now - 100]])
  book.markDead('a')
  t.equal(book.merge([['a', 'tcp://127.0.0.1:2', now - 100]]), 0, 'the same entry relayed again is ignored')
  t.equal(book.merge([['a', 'tcp://127.0.0.1:2', now - 50]]), 1, 'a newer one is taken')
  t.end()
})

test('with keys, only entries signed by the key of their id are taken', (t) => {
  const owner = generateKeys()
  const other = generateKeys()
  const now = Date.now()
  const book = new AddressBook({ self: 'me', ttl: HOUR, signed: true })
  const good = toWire(ownEntry(owner.id, 'tcp://127.0.0.1:2', now, owner))
  const unsigned = [other.id, 'tcp://127.0.0.1:3', now]
  const redirected = [...good] as unknown[]
  redirected[1] = 'tcp://10.9.9.9:4100'
  const stolen = toWire(ownEntry(owner.id, 'tcp://10.9.9.9:4100', now, other))
  const renamed = [...toWire(ownEntry(other.id, 'tcp://127.0.0.1:5', now, other))] as unknown[]
  renamed[0] = owner.id
  t.equal(book.merge([unsigned, redirected, stolen, renamed]), 0, 'unsigned, altered, signed by another key, or renamed: none is taken')
  t.equal(book.merge([good]), 1, 'the owner\'s signed entry is taken')
  t.equal(book.get(owner.id)?.address, 'tcp://127.0.0.1:2', 'with its own address')
  t.end()
})

test('sampling is random and bounded', (t) => {
  const now = 1_000_000_000_000
  const book = new AddressBook({ self: 'me', ttl: HOUR, signed: false, now: () => now })
  book.merge(Array.from({ length: 50 }, (_, i) => [`n${i}`, `tcp://127.0.0.1:${1000 + i}`, now]))
  const random = seededRandom(7)
  const a = book.sample(10, random).map((e) => e.id)
  const b = book.sample(10, random).map((e) => e.id)
  t.equal(new Set(a).size, 10, 'ten distinct entries')
  t.notDeepEqual(a, b, 'different draws differ')
  t.end()
})

test('a node refuses a malformed peer exchange with SCUTTLEDB_PEX_PROTOCOL and goes on serving', async (t) => {
  const a = await startNode(t)
  for (const garbage of [Buffer.from([0xff, 0xff, 0xff, 0xff]), Buffer.from([0, 0, 0, 3, 0x93, 1, 2])]) {
    const socket = net.connect(a.port, '127.0.0.1')
    socket.on('error', () => {})
    socket.write(Buffer.concat([MAGIC, garbage]))
    await new Promise((resolve) => socket.once('close', resolve))
  }
  t.ok(await until(() => (a.log().match(/dropped: SCUTTLEDB_HANDSHAKE_FAILED .*SCUTTLEDB_PEX_PROTOCOL/g) ?? []).length >= 2, 10_000), `each is logged with its code (${a.log().trim()})`)
  const res = await http(a.http, 'PUT', '/kv/still', 'here')
  t.equal(res.status, 200, 'the node still serves')
  t.equal(await a.stop(), 0, 'and exits 0')
})

test('a --peer that does not speak peer exchange (a library listener) still replicates with the node', async (t) => {
  const model = await diskModel(t)
  const server = await listen(model, { port: 0 })
  t.teardown(async () => { await server.close() })
  await model.set('from-library', 1)
  const node = await startNode(t, ['--peer', `127.0.0.1:${server.address.port}`])
  t.ok(await until(async () => (await http(node.http, 'GET', '/kv/from-library')).status === 200, 20_000), 'the node got the listener\'s write')
  await http(node.http, 'PUT', '/kv/from-node', 2)
  t.ok(await until(async () => (await model.get('from-node')) === 2, 20_000), 'and the listener the node\'s')
  t.ok(/SCUTTLEDB_PEX_PROTOCOL/.test(node.log()), 'after one attempt with peer exchange, logged once')
  t.equal(await node.stop(), 0, 'the node exits 0')
})

test('a node given its own address as --peer finds out by the exchange (SCUTTLEDB_PEX_SELF) and says so once', async (t) => {
  const port = await freePort()
  const a = await startNode(t, ['--port', String(port), '--peer', `127.0.0.1:${port}`])
  t.ok(await until(() => /unreachable: SCUTTLEDB_HANDSHAKE_FAILED .*SCUTTLEDB_PEX_SELF/.test(a.log()), 10_000), `it names the mistake (${a.log().trim()})`)
  await sleep(1500)
  t.equal((a.log().match(/unreachable:/g) ?? []).length, 1, 'once, not on every retry')
  t.ok(/it is this node itself: not dialed again/.test(a.log()), 'and that it stops dialing it')
  const status = (await http(a.http, 'GET', '/status')).body as { peers: Array<{ state: string, direction: string, address: string }> }
  t.notOk(status.peers.some((p) => p.direction === 'outgoing' && p.state === 'synced'), 'and never replicates with itself')
  // A peer list shared by a whole cluster names every node: dialing itself every 5 s forever filled both sides' logs.
  t.deepEqual(status.peers.filter((p) => p.direction === 'outgoing'), [], 'no outgoing connection to itself is kept (no redial)')
  t.equal(await a.stop(), 0, 'it exits 0')
})
