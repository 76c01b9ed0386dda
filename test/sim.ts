import { pipeline } from 'node:stream'
import { once } from 'node:events'
import { MemoryLevel } from 'memory-level'
import type { Test } from 'tape'
import { Model, seededRandom, type ClockObject, type ReplicationStream } from '../lib/index.js'
import { allHistory, sleep, tempDir } from './helpers.js'


/** One simulated node: a stable id and database, and the Model currently open on it. */
export interface SimPeer {
  id: string
  db: MemoryLevel<string, Buffer> | string
  model: Model
}

interface SimLink {
  a: ReplicationStream
  b: ReplicationStream
  synced: Promise<void>
  closed: Promise<void>
}

/** What every peer must agree on once the network has settled. */
export interface PeerState {
  json: Record<string, unknown>
  clock: ClockObject
  history: unknown[]
}

export interface SimOptions {
  seed: number
  peers: number
  /** Keep each peer on classic-level in a temp dir instead of memory-level. */
  disk?: boolean
  /** The key space; small so writes conflict. */
  keys?: string[]
}

/** The simulated wall clock starts here and only moves when the simulation says so. */
const EPOCH = 1_700_000_000_000

/**
 * A seeded network of Models: random writes on a small key space under one shared,
 * simulated wall clock (so timestamps tie), random connects, disconnects and restarts.
 * The seed fixes the sequence of operations; I/O interleaving is left to the runtime.
 */
export class Sim {
  readonly seed: number
  readonly rand: () => number
  readonly peers: SimPeer[] = []
  readonly keys: string[]
  /** Every operation, for printing when a run fails. */
  readonly trace: string[] = []
  /** Codes of every `rejected` event: a healthy network has none. */
  readonly rejections: string[] = []
  /** Errors of writes that should have succeeded. */
  readonly writeErrors: Error[] = []
  wall = EPOCH
  readonly now = (): number => this.wall
  readonly #links = new Map<string, SimLink>()
  readonly #pending = new Set<Promise<void>>()
  #writes = 0

  private constructor (options: SimOptions) {
    this.seed = options.seed
    this.rand = seededRandom(options.seed)
    this.keys = options.keys ?? ['a', 'b', 'c', 'd']
  }

  /** Create and open the peers; everything is closed when the test ends. */
  static async create (t: Test, options: SimOptions): Promise<Sim> {
    const sim = new Sim(options)
    for (let i = 0; i < options.peers; i++) {
      // Ids drawn from the seed, so tie-breaking order is not just peer order.
      const id = 'p' + Math.floor(sim.rand() * 0xFFFFFF).toString(16).padStart(6, '0') + i
      const db = options.disk === true ? await tempDir(t, 'scuttledb-sim-') : new MemoryLevel<string, Buffer>()
      sim.peers.push({ id, db, model: await sim.#open(id, db) })
    }
    t.teardown(async () => { await sim.close() })
    return sim
  }

  async #open (id: string, db: MemoryLevel<string, Buffer> | string): Promise<Model> {
    const model = new Model({ db, id, now: this.now })
    model.on('rejected', (err) => { this.rejections.push(err.code) })
    await model.open()
    return model
  }

  #pick (n: number): number {
    return Math.floor(this.rand() * n)
  }

  /** Run `steps` random operations. */
  async run (steps: number): Promise<void> {
    for (let i = 0; i < steps; i++) await this.step()
  }

  /** One random operation. */
  async step (): Promise<void> {
    const r = this.rand()
    const n = this.peers.length
    if (r < 0.45) {
      await this.write(this.#pick(n))
    } else if (r < 0.60) {
      // Mostly no advance at all, so several peers write in the same millisecond.
      const by = this.rand() < 0.5 ? 0 : 1 + this.#pick(3)
      this.wall += by
      this.trace.push(`wall +${by}`)
    } else if (r < 0.75) {
      const i = this.#pick(n)
      const j = (i + 1 + this.#pick(n - 1)) % n
      this.connect(i, j)
    } else if (r < 0.87) {
      const names = [...this.#links.keys()]
      if (names.length > 0) {
        const [i, j] = names[this.#pick(names.length)].split('-').map(Number)
        await this.disconnect(i, j)
      }
    } else if (r < 0.92) {
      await this.restart(this.#pick(n))
    } else {
      // Let some I/O happen between operations (or not), varying the interleaving.
      const ticks = this.#pick(4)
      for (let k = 0; k < ticks; k++) await new Promise((resolve) => setImmediate(resolve))
    }
  }

  /** A set or delete on a random key; sometimes awaited, sometimes left in flight. */
  async write (i: number): Promise<void> {
    const peer = this.peers[i]
    const key = this.keys[this.#pick(this.keys.length)]
    const del = this.rand() < 0.25
    const value = `${peer.id}#${this.#writes++}`
    this.trace.push(del ? `${i} del ${key}` : `${i} set ${key}=${value}`)
    const done = (del ? peer.model.delete(key) : peer.model.set(key, value))
      .catch((err: Error) => { this.writeErrors.push(err) })
    if (this.rand() < 0.5) {
      await done
    } else {
      this.#pending.add(done)
      void done.finally(() => { this.#pending.delete(done) })
    }
  }

  /** Connect peers i and j in-process (no-op when already connected). */
  connect (i: number, j: number): SimLink {
    const name = i < j ? `${i}-${j}` : `${j}-${i}`
    const existing = this.#links.get(name)
    if (existing !== undefined) return existing
    this.trace.push(`connect ${name}`)
    const a = this.peers[i].model.createStream({ name: `${i}>${j}` })
    const b = this.peers[j].model.createStream({ name: `${j}>${i}` })
    const synced = Promise.all([once(a, 'sync'), once(b, 'sync')]).then(() => {})
    // A link torn down before it synced must not leave a rejected promise behind.
    synced.catch(() => {})
    const closed = new Promise<void>((resolve) => { pipeline(a, b, a, () => { resolve() }) })
    const link = { a, b, synced, closed }
    this.#links.set(name, link)
    void closed.then(() => { if (this.#links.get(name) === link) this.#links.delete(name) })
    return link
  }

  /** Disconnect i and j by destroying one of the streams (the pipeline destroys the other). */
  async disconnect (i: number, j: number): Promise<void> {
    const name = i < j ? `${i}-${j}` : `${j}-${i}`
    const link = this.#links.get(name)
    if (link === undefined) return
    this.trace.push(`disconnect ${name}`)
    this.#links.delete(name)
    ;(this.rand() < 0.5 ? link.a : link.b).destroy()
    await link.closed
  }

  /** Close peer i and open a new Model on the same database. */
  async restart (i: number): Promise<void> {
    const peer = this.peers[i]
    this.trace.push(`restart ${i}`)
    const links = [...this.#links.entries()].filter(([name]) => name.split('-').map(Number).includes(i))
    for (const [name] of links) this.#links.delete(name)
    await peer.model.close()
    await Promise.all(links.map(async ([, link]) => { await link.closed }))
    peer.model = await this.#open(peer.id, peer.db)
  }

  /**
   * Finish: wait for in-flight writes, replace every link with a line through all
   * peers, wait for each link's sync, then until no peer commits or drops anything more.
   */
  async settle (timeoutMs = 10_000): Promise<boolean> {
    while (this.#pending.size > 0) await Promise.all([...this.#pending])
    for (const name of [...this.#links.keys()]) {
      const [i, j] = name.split('-').map(Number)
      await this.disconnect(i, j)
    }
    this.trace.push('settle')
    // Clocks move only with updates (a source's latest is kept even when superseded),
    // and a line sync forwards them hop by hop. Resync the line (at most one round per
    // hop) until the clocks stop changing, as a real network keeps reconnecting.
    let clocks = ''
    for (let round = 0; round < this.peers.length; round++) {
      const line: SimLink[] = []
      for (let i = 0; i + 1 < this.peers.length; i++) line.push(this.connect(i, i + 1))
      await Promise.all(line.map(async (link) => { await link.synced }))
      const now = JSON.stringify(this.peers.map((p) => p.model.clock))
      if (now === clocks) break
      clocks = now
      for (let i = 0; i + 1 < this.peers.length; i++) await this.disconnect(i, i + 1)
    }
    const end = Date.now() + timeoutMs
    let last = ''
    let quiet = 0
    while (Date.now() < end) {
      await sleep(20)
      const now = JSON.stringify(this.peers.map((p) => [p.model.stats, p.model.clock]))
      quiet = now === last ? quiet + 1 : 0
      last = now
      if (quiet >= 3) return true
    }
    return false
  }

  /** What peer i holds now. */
  async state (i: number): Promise<PeerState> {
    const model = this.peers[i].model
    return { json: await model.toJSON(), clock: model.clock, history: await allHistory(model) }
  }

  /** Close every peer (and every memory-level database). */
  async close (): Promise<void> {
    await Promise.allSettled([...this.#pending])
    for (const peer of this.peers) {
      await peer.model.close()
      if (typeof peer.db !== 'string') await peer.db.close()
    }
  }
}
