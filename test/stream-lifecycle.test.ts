// Every way a replication stream can be used, cycled many times: each stream must close
// by itself (so `streams` returns to 0 and `unstream` fires once per stream), and nothing
// may be left on the instance or in the event loop. LIFECYCLE_CYCLES (default 2000) sets the
// cycles per kind; a long run: LIFECYCLE_CYCLES=20000.
import test from 'tape'
import net from 'node:net'
import { once } from 'node:events'
import { PassThrough, pipeline } from 'node:stream'
import { MemoryLevel } from 'memory-level'
import { Model, type ReplicationStream, type StreamOptions } from '../lib/index.js'

const CYCLES = Number(process.env.LIFECYCLE_CYCLES ?? 2000)
/** Connected pairs cost a sync each, and there are twenty kinds of them: fewer cycles keep the file near 10 s. */
const PAIR_CYCLES = Math.ceil(CYCLES / 4)
/** How long a cycle's streams may take to close before the test calls them leaked (not a speed check). */
const DEADLINE_MS = 5000

/** What one cycle does with two open instances; it returns every stream it created. */
type Cycle = (a: Model, b: Model) => Promise<ReplicationStream[]>

const modes: Record<string, StreamOptions> = {
  duplex: {},
  'read-only': { writable: false },
  'write-only': { readable: false },
  'read-only with sendClock': { writable: false, sendClock: true },
  'write-only with sendClock': { readable: false, sendClock: true },
  'tail: false': { tail: false }
}

/** The connections a peer can have, as pairs of options for the two ends. */
const pairs: Record<string, [StreamOptions, StreamOptions]> = {
  'duplex to duplex': [{}, {}],
  'read-only to write-only (sendClock)': [{ writable: false, sendClock: true }, { readable: false, sendClock: true }],
  'read-only to write-only': [{ writable: false }, { readable: false }],
  'tail: false to duplex': [{ tail: false }, {}],
  'write-only tail: false to read-only': [{ readable: false, tail: false }, { writable: false }]
}

function timers (): number {
  return process.getActiveResourcesInfo().filter((r) => r === 'Timeout' || r === 'Immediate').length
}

function listeners (m: Model): Record<string, number> {
  return Object.fromEntries(m.eventNames().map((e) => [String(e), m.listenerCount(e)]))
}

/** Resolves true once `ready()` holds (checked on every `unstream`), false if it does not by the deadline. */
async function unstreamed (emitters: Model[], ready: () => boolean): Promise<boolean> {
  if (ready()) return true
  let timer: NodeJS.Timeout | undefined
  let check: (() => void) | undefined
  try {
    return await new Promise<boolean>((resolve) => {
      timer = setTimeout(() => { resolve(false) }, DEADLINE_MS)
      check = () => { if (ready()) resolve(true) }
      for (const e of emitters) e.on('unstream', check)
    })
  } finally {
    clearTimeout(timer)
    for (const e of emitters) e.off('unstream', check as () => void)
  }
}

async function synced (...streams: ReplicationStream[]): Promise<void> {
  await Promise.all(streams.map(async (s) => { if (!s.progress.syncSent || !s.progress.syncReceived) await once(s, 'sync') }))
}

/** Two streams replicating through a pipeline; `wire` (when asked for) sits between them like a socket. */
function connect (a: Model, b: Model, [oa, ob]: [StreamOptions, StreamOptions], wire?: PassThrough): [ReplicationStream, ReplicationStream] {
  const sa = a.createStream(oa)
  const sb = b.createStream(ob)
  if (wire === undefined) pipeline(sa, sb, sa, () => {})
  else pipeline(sa, wire, sb, new PassThrough(), sa, () => {})
  return [sa, sb]
}

function cycleTest (name: string, cycle: Cycle, cycles = CYCLES): void {
  test(`${name}: every stream closes, ${cycles} times, leaving no stream, listener or timer`, async (t) => {
    const a = new Model({ db: new MemoryLevel() })
    const b = new Model({ db: new MemoryLevel() })
    await Promise.all([a.open(), b.open()])
    await a.set('from-a', 1)
    await b.set('from-b', 1)
    let unstreams = 0
    const count = (): void => { unstreams++ }
    a.on('unstream', count)
    b.on('unstream', count)
    const before = { a: listeners(a), b: listeners(b), timers: timers() }
    let created = 0
    try {
      for (let i = 0; i < cycles; i++) {
        const streams = await cycle(a, b)
        created += streams.length
        if (!await unstreamed([a, b], () => unstreams === created)) {
          const open = streams.filter((s) => !s.closed).length
          t.fail(`cycle ${i}: ${open} of ${streams.length} streams never closed (open: a ${a.streams}, b ${b.streams})`)
          return
        }
      }
      t.equal(a.streams + b.streams, 0, 'streams is back to 0 on both instances')
      t.equal(unstreams, created, `unstream fired once per stream (${created})`)
      t.deepEqual({ a: listeners(a), b: listeners(b) }, { a: before.a, b: before.b }, 'no listener is left')
      // Timers are counted process-wide (other tests in this process may hold one): a
      // timer left per stream would show as thousands, not as one.
      const leftTimers = timers() - before.timers
      t.ok(leftTimers < Math.min(10, cycles), `no timer per stream is left (${leftTimers} more than before ${cycles} cycles)`)
    } finally {
      await Promise.all([a.close(), b.close()])
    }
  })
}

// Streams that never get a peer.
for (const [mode, options] of Object.entries(modes)) {
  cycleTest(`a ${mode} stream ended with end() and never read`, async (a) => {
    const s = a.createStream(options)
    s.end()
    return [s]
  })
  cycleTest(`a ${mode} stream that never gets a peer, disposed`, async (a) => {
    const s = a.createStream(options)
    a.dispose()
    return [s]
  })
  cycleTest(`a ${mode} stream that never gets a peer, destroyed`, async (a) => {
    const s = a.createStream(options)
    s.destroy()
    return [s]
  })
}

// Connected streams, after they synced.
for (const [name, pair] of Object.entries(pairs)) {
  cycleTest(`${name}: the first side disposed`, async (a, b) => {
    const streams = connect(a, b, pair)
    await synced(...streams)
    a.dispose()
    return streams
  }, PAIR_CYCLES)
  cycleTest(`${name}: the second side disposed`, async (a, b) => {
    const streams = connect(a, b, pair)
    await synced(...streams)
    b.dispose()
    return streams
  }, PAIR_CYCLES)
  cycleTest(`${name}: the peer destroyed`, async (a, b) => {
    const streams = connect(a, b, pair)
    await synced(...streams)
    streams[1].destroy()
    return streams
  }, PAIR_CYCLES)
  cycleTest(`${name}: the wire between them fails with ECONNRESET`, async (a, b) => {
    const wire = new PassThrough()
    const streams = connect(a, b, pair, wire)
    await synced(...streams)
    wire.destroy(Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }))
    return streams
  }, PAIR_CYCLES)
}

cycleTest('both sides tail: false close by themselves after the exchange', async (a, b) => {
  const streams = connect(a, b, [{ tail: false }, { tail: false }])
  await synced(...streams)
  return streams
})

cycleTest('the README recipe: a.createReadStream({ tail: false }).pipe(b.createWriteStream()) closes both', async (a, b) => {
  const r = a.createReadStream({ tail: false })
  const w = b.createWriteStream()
  r.pipe(w)
  await synced(w)
  return [r, w]
})

cycleTest('a live read stream piped into a write stream: disposing the reader closes both', async (a, b) => {
  const r = a.createReadStream()
  const w = b.createWriteStream()
  r.pipe(w)
  await synced(r, w)
  a.dispose()
  return [r, w]
})

cycleTest('a live read stream piped into a write stream: disposing the writer closes both', async (a, b) => {
  const r = a.createReadStream()
  const w = b.createWriteStream()
  r.pipe(w)
  await synced(r, w)
  b.dispose()
  return [r, w]
})

cycleTest('streams joined by plain pipes: destroying one closes the other', async (a, b) => {
  const sa = a.createStream()
  const sb = b.createStream()
  sa.pipe(sb).pipe(sa)
  await synced(sa, sb)
  sb.destroy()
  return [sa, sb]
})

test('a disposed stream waits for its peer to end, so pipeline() finishes without an error', async (t) => {
  const a = new Model({ db: new MemoryLevel() })
  const b = new Model({ db: new MemoryLevel() })
  await Promise.all([a.open(), b.open()])
  t.teardown(async () => { await Promise.all([a.close(), b.close()]) })
  const sa = a.createStream()
  const sb = b.createStream()
  const done = new Promise<Error | null | undefined>((resolve) => { pipeline(sa, sb, sa, resolve) })
  await synced(sa, sb)
  a.dispose()
  t.equal(await done, undefined, 'the pipeline ends cleanly')
  t.ok(await unstreamed([a, b], () => a.streams + b.streams === 0), 'both streams closed')
})

test('over TCP, a connection reset closes both replication streams, cycle after cycle', async (t) => {
  const a = new Model({ db: new MemoryLevel() })
  const b = new Model({ db: new MemoryLevel() })
  await Promise.all([a.open(), b.open()])
  const server = net.createServer((socket) => {
    const s = a.createStream()
    pipeline(s, socket, s, () => {})
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.teardown(async () => {
    await new Promise((resolve) => server.close(resolve))
    await Promise.all([a.close(), b.close()])
  })
  const port = (server.address() as net.AddressInfo).port
  const cycles = 50
  for (let i = 0; i < cycles; i++) {
    const socket = net.connect(port, '127.0.0.1')
    const s = b.createStream()
    pipeline(s, socket, s, () => {})
    await synced(s)
    // A real RST: the server's socket sees ECONNRESET.
    socket.resetAndDestroy()
    if (!await unstreamed([a, b], () => a.streams + b.streams === 0)) {
      t.fail(`cycle ${i}: streams left open (server ${a.streams}, client ${b.streams})`)
      return
    }
  }
  t.pass(`${cycles} resets, no stream left open`)
})
