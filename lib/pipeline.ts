import { codes, error, type ScuttledbError } from './errors.js'
import { pack } from './msgpack.js'
import type { Clock, Source, Update } from './protocol.js'
import type { Commit, Storage } from './storage.js'
import type { ReplicationStream } from './stream.js'
import type { HybridClock } from './timestamp.js'
import { Transaction } from './transaction.js'
import type { ScuttlebuttStats, Security } from './scuttlebutt.js'
import { AheadVerifier, type Pre } from './verify-ahead.js'

/** Called once an update is committed, dropped as old, or rejected (`rejected`: the error it was refused with). */
export type Done = (err: Error | null, update?: Update, rejected?: ScuttledbError) => void

/** One queued update (local or remote). */
export interface Pending {
  local: boolean
  update: Update
  /** The update's msgpack bytes: as received from a peer, or packed once for a local update. */
  bytes: Uint8Array | undefined
  /** Items sharing a group (one `Model#batch()`) always go into one commit together. */
  group?: object
  /** Instead of an update: work that writes on its own, with no commit in flight (purges). */
  task?: () => Promise<void>
  /** The stream it came from (a replication or collection stream): live updates are not sent back to it. */
  origin: object | undefined
  done: Done | undefined
}

/** Keep at most this many updates queued before writers (streams) are asked to wait. */
export const QUEUE_HIGH_WATER = 4096

/** What the pipeline needs of its Scuttlebutt instance. */
export interface PipelineHost {
  readonly storage: Storage
  /** The committed clock; the pipeline moves it after each commit. */
  readonly clock: Clock
  /**
   * Sources whose latest update was superseded but is kept in the log (source ->
   * its ts), so that every clock entry stays backed by an update a peer can fetch.
   */
  readonly pinned: Clock
  readonly hlc: HybridClock
  readonly maxClockSkew: number
  /** The newest delete this node has forgotten (`tombstoneTTL`), or -Infinity: remote updates at or before it are refused. */
  forgottenBefore: () => number
  readonly maxBatch: number
  readonly sync: boolean
  readonly security: Security | undefined
  readonly writers: ((source: Source, update: Update) => boolean) | undefined
  readonly streams: Iterable<ReplicationStream>
  readonly stats: ScuttlebuttStats
  applyUpdate: (update: Update, tx: Transaction) => boolean | Promise<boolean>
  prefetch: (updates: Update[], tx: Transaction) => Promise<void>
  /** Announce a committed update (events of the instance and of the data type). */
  committed: (update: Update) => void
  reject: (err: ScuttledbError) => void
  /** This node's id. */
  readonly id: Source
  /** Stamp (and sign) a local update again with a fresh timestamp. */
  restamp: (update: Update) => Update
  emit: (name: string, ...args: unknown[]) => void
}

/**
 * The update pipeline: a queue drained in group commits. For each batch it
 * authorizes (allow-list, signatures), checks skew and per-source order, applies
 * through the data type's hook, writes one atomic batch with the clock, and only
 * then moves the clock, emits, forwards to streams and acknowledges.
 *
 * The clock moves only with updates that were checked and committed: a peer's
 * header clock is an unauthenticated claim and never moves it. Each source's
 * latest update stays in the log even when superseded ("pinned"), so clocks
 * still converge by fetching updates.
 *
 * A write that fails may still have reached storage. Before anything else is
 * committed the pipeline reads the clock entries back to learn whether it did;
 * if it did, its updates are announced and forwarded as if the write had
 * succeeded, so an update in storage always reaches the peers.
 */
export class UpdatePipeline {
  readonly #host: PipelineHost
  #queue: Pending[] = []
  #pumping: Promise<void> | undefined
  #roomWaiters: Array<() => void> = []
  /** Per origin stream and source, the earliest update refused as too far ahead (see `#holdBack`). */
  readonly #held = new WeakMap<object, Map<Source, number>>()
  /** Something was ever held back: until then the per-update check costs nothing. */
  #holding = false
  /** A commit whose write failed and whose outcome could not be read back yet. */
  #uncertain: Prepared | undefined
  /** How many queued items are tasks: without any, taking a batch needs no scan of the queue. */
  #tasks = 0
  /** Verdicts under way for remote updates, from a backend's verifyBatch (most started before their batch was taken). */
  #verifier: AheadVerifier<Pending> | undefined

  constructor (host: PipelineHost) {
    this.#host = host
  }

  /** Resolves when the commit queue has room; undefined when it has room now. */
  room (): Promise<void> | undefined {
    if (this.#queue.length < QUEUE_HIGH_WATER) return undefined
    return new Promise((resolve) => this.#roomWaiters.push(resolve))
  }

  /** True while a commit's write failed and whether it landed is not known (its read-back failed too). */
  get uncertain (): boolean {
    return this.#uncertain !== undefined
  }

  /** Resolves once every queued item is settled, and a commit that failed uncertainly is read back if storage allows. */
  async drained (): Promise<void> {
    while (this.#pumping !== undefined) await this.#pumping
    // One that landed moves the clock before the instance closes: a record of the clock taken
    // then (a collection's catalog) would miss it. Through the queue, as the next commit would.
    if (this.#uncertain !== undefined) await this.exclusive(async () => {}).catch(() => {})
  }

  /** Queue an update for the next commit. */
  enqueue (item: Pending): void {
    this.#queue.push(item)
    this.#pumping ??= this.#pump()
  }

  /**
   * Run `task` when no commit is being written and none is prepared (it writes
   * on its own: e.g. a purge of expired deletes); updates queued after it wait.
   */
  async exclusive (task: () => Promise<void>): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.#tasks++
      this.enqueue({ local: true, update: [null, 0, ''], bytes: undefined, origin: undefined, task, done: (err) => { err === null ? resolve() : reject(err) } })
    })
  }

  /** Queue updates that must commit atomically: they are never split across commits. */
  enqueueGroup (items: Pending[]): void {
    const group = {}
    for (const item of items) {
      item.group = group
      this.#queue.push(item)
    }
    this.#pumping ??= this.#pump()
  }

  #take (): Pending[] {
    const max = this.#host.maxBatch
    let items: Pending[]
    const task = this.#tasks === 0 ? -1 : this.#queue.findIndex((item) => item.task !== undefined)
    if (task !== -1 && task < max) {
      // Updates before a task commit first; the task runs alone after them.
      items = this.#queue.splice(0, task)
    } else if (this.#queue.length <= max) {
      items = this.#queue
      this.#queue = []
    } else {
      // Never cut a group in two: its commit may run past maxBatch instead.
      let end = max
      const group = this.#queue[max - 1].group
      while (group !== undefined && end < this.#queue.length && this.#queue[end].group === group) end++
      items = this.#queue.splice(0, end)
    }
    this.#wakeRoom()
    return items
  }

  /** Writers waiting for room (`room()`) go on once the queue is below its high-water mark. */
  #wakeRoom (): void {
    if (this.#queue.length < QUEUE_HIGH_WATER && this.#roomWaiters.length > 0) {
      const waiters = this.#roomWaiters
      this.#roomWaiters = []
      for (const wake of waiters) wake()
    }
  }

  /**
   * Commits overlap by one: batch N+1 is checked and applied (reading through
   * batch N's writes) while batch N is being written; N+1 is written, and
   * announced, only after N has committed.
   */
  async #pump (): Promise<void> {
    // Yield once so that every write made in this tick joins the same commit (group commit).
    await null
    let writing: Prepared | undefined
    try {
      for (;;) {
        if (this.#queue.length === 0) {
          if (writing === undefined) break
          await writing.committed
          writing = undefined
          continue
        }
        if (writing === undefined && this.#uncertain !== undefined && !(await this.#settleUncertain())) {
          // Storage cannot even be read: nothing may be committed over an unknown state.
          const cause = this.#uncertain.failure
          const failed = this.#queue[0].task !== undefined ? this.#queue.splice(0, 1) : this.#take()
          if (failed[0].task !== undefined) this.#tasks--
          for (const item of failed) {
            item.done?.(error(codes.COMMIT_UNCERTAIN, 'An earlier commit failed and storage cannot be read back', { cause }))
          }
          continue
        }
        const head = this.#queue[0]
        if (head.task !== undefined) {
          if (writing !== undefined) {
            await writing.committed
            writing = undefined
            continue
          }
          this.#queue.shift()
          this.#tasks--
          try {
            await head.task()
            head.done?.(null)
          } catch (err) {
            head.done?.(err as Error)
          }
          continue
        }
        const next = await this.#prepare(this.#take(), writing)
        if (writing !== undefined) {
          const ok = await writing.committed
          if (!ok && next !== undefined) {
            await next.commit.abort().catch(() => {})
            for (const item of next.accepted) item.done?.(writing.failure ?? new Error('An earlier commit failed'))
            writing = undefined
            continue
          }
          writing = undefined
        }
        if (next !== undefined) {
          // The previous commit is written: drop the link, or every transaction would stay reachable.
          next.tx.detach()
          next.committed = this.#finish(next)
          writing = next
        }
      }
    } finally {
      this.#pumping = undefined
    }
  }

  /**
   * Drop remote updates from sources not allowed to write, and those that fail
   * verification, before anything else looks at them (the clock cannot move for
   * a forged update). Each is counted and reported as `rejected` and `unverified`.
   */
  async #authorize (items: Pending[]): Promise<Pending[]> {
    const security = this.#host.security
    // A backend with verifyBatch gets the whole batch in one call (e.g. to share it among worker threads).
    const verifier = security?.verifyBatch !== undefined ? (this.#verifier ??= new AheadVerifier(security, this.#host.maxBatch)) : undefined
    const batched: Pending[] = []
    const verdicts: Pre[] = items.map((item) => {
      if (item.local) return true
      if (this.#host.writers !== undefined && !this.#host.writers(item.update[2], item.update)) return 'source not allowed to write'
      if (security === undefined) return true
      if (verifier !== undefined) {
        if (!verifier.has(item)) batched.push(item)
        return undefined
      }
      try {
        return security.verify(item.update)
      } catch (err) {
        return `verify threw: ${(err as Error).message}`
      }
    })
    if (verifier !== undefined) {
      if (batched.length > 0) verifier.start(batched)
      verifier.ahead(this.#queue, this.#host.clock)
    }
    const settled = verifier !== undefined
      ? await verifier.settle(items, verdicts)
      : verdicts.some((v) => typeof v === 'object')
        ? await Promise.all(verdicts.map(async (v) => await Promise.resolve(v).catch((err: Error) => `verify failed: ${err.message}`)))
        : verdicts as Array<boolean | string>
    const kept: Pending[] = []
    items.forEach((item, i) => {
      const verdict = settled[i]
      if (verdict === true) {
        kept.push(item)
        return
      }
      const reason = typeof verdict === 'string' ? verdict : 'bad signature'
      const err = error(codes.UNVERIFIED, `Update rejected: ${reason}`, { update: item.update })
      this.#reject(err)
      this.#emit('unverified', item.update, reason)
      item.done?.(null, undefined, err)
    })
    return kept
  }

  /** Check and apply one batch into a commit (not yet written); undefined when nothing is accepted. */
  async #prepare (items: Pending[], previous: Prepared | undefined): Promise<Prepared | undefined> {
    try {
      return await this.#check(items, previous)
    } catch (err) {
      // Also when it is alone in its batch: its stream's updates queued behind it must fail with it.
      if (err instanceof ApplyFailure) {
        this.#isolate(err)
        return undefined
      }
      // Anything unexpected (a closed database) fails this batch only.
      for (const item of items) item.done?.(err as Error)
      return undefined
    }
  }

  /**
   * The data type's `_applyUpdate` threw on one update of a batch: fail that update
   * with the others of its kind that cannot go without it (its `batch()` group, or
   * every update of the same stream in the batch, whose later ones would move the
   * clock past it) and queue the rest again, ahead of everything, to commit without
   * it. One peer's update a data type cannot apply must not fail the local writes
   * and other peers' updates that happened to share its commit.
   */
  #isolate (failure: ApplyFailure): void {
    const { item: culprit, batch } = failure
    const together = (item: Pending): boolean => item === culprit ||
      (culprit.group !== undefined && item.group === culprit.group) ||
      (culprit.origin !== undefined && item.origin === culprit.origin)
    const rest: Pending[] = []
    for (const item of batch) {
      if (together(item)) item.done?.(failure.failure(item))
      else rest.push(item)
    }
    // The stream's updates queued behind it go too: one of them would move the clock past it.
    if (culprit.origin !== undefined && this.#queue.some((item) => item.origin === culprit.origin)) {
      this.#queue = this.#queue.filter((item) => {
        if (item.origin !== culprit.origin) return true
        item.done?.(failure.failure(item))
        return false
      })
    }
    this.#queue.unshift(...rest)
    this.#wakeRoom()
  }

  async #check (items: Pending[], previous: Prepared | undefined): Promise<Prepared | undefined> {
    const host = this.#host
    const clock = host.clock
    const pending = previous?.moved
    const latestOf = (source: Source): number | undefined => moved.get(source) ?? pending?.get(source) ?? clock.get(source)
    const moved: Clock = new Map()
    // Echoes and duplicates are the common remote input: drop them before paying for verification.
    if (host.security !== undefined || host.writers !== undefined) {
      items = await this.#authorize(items.filter((item) => item.local || !this.#old(item, latestOf)))
    }
    const accepted: Pending[] = []
    const wall = host.hlc.wall()
    const skew = host.maxClockSkew
    const staleBefore = host.forgottenBefore()
    for (const item of items) {
      let [, ts, source] = item.update
      if (item.local) {
        const latest = latestOf(source)
        if (latest !== undefined && ts <= latest) {
          // Something newer for this node arrived after the write was stamped (a peer
          // held our updates from before a restore): stamp it again, never drop it.
          host.hlc.observe(latest)
          item.update = host.restamp(item.update)
          item.bytes = undefined
          ts = item.update[1]
        }
      } else {
        const ahead = ts > wall + skew
        if (ahead || this.#heldBack(item, latestOf)) {
          const err = ahead
            ? error(codes.CLOCK_SKEW, `Update timestamp ${ts} is too far ahead of the local clock`, { update: item.update })
            : error(codes.CLOCK_SKEW, `Update ${ts} of ${source} held back: an earlier update of that source from the same peer was too far ahead`, { update: item.update })
          if (ahead) this.#holdBack(item)
          this.#reject(err)
          item.done?.(null, undefined, err)
          continue
        }
        if (this.#old(item, latestOf)) continue
        if (ts <= staleBefore) {
          // Older than a delete this node forgot: the delete may have removed it, and nothing here
          // would beat it now (a value brought back). It took longer than tombstoneTTL to arrive.
          const err = error(codes.STALE_UPDATE, `Update ${ts} of ${source} is older than a delete this node has forgotten (tombstoneTTL)`, { update: item.update })
          this.#reject(err)
          item.done?.(null, undefined, err)
          continue
        }
        if (item.bytes === undefined) {
          try {
            item.bytes = pack(item.update)
          } catch (err) {
            const refused = error(codes.INVALID_MESSAGE, 'Update cannot be encoded', { cause: err as Error, update: item.update })
            this.#reject(refused)
            item.done?.(null, undefined, refused)
            continue
          }
        }
      }
      moved.set(source, ts)
      host.hlc.observe(ts)
      accepted.push(item)
    }
    if (accepted.length === 0) return undefined
    const commit = host.storage.batch()
    const pins: Map<Source, number | null> = new Map()
    // The pin of a source before this commit (pins this commit sets are always at its new head).
    // Capture the map, not `previous`: a closure over it would chain every commit's transaction.
    const earlierPins = previous?.pins
    const pinnedBefore = (source: Source): number | undefined => {
      const earlier = earlierPins?.get(source)
      return earlier !== undefined ? earlier ?? undefined : host.pinned.get(source)
    }
    // A superseded update leaves the log, unless it is its source's latest: then it is
    // pinned, so the clock entry it backs can still be fetched by peers.
    const drop = (ts: number, source: Source): void => {
      if (latestOf(source) === ts) {
        pins.set(source, ts)
        commit.putPin(source, ts)
      } else {
        commit.delUpdate(source, ts)
      }
    }
    const tx = new Transaction(host.storage, commit, previous?.tx, drop)
    // Lost on arrival is rare: a set of those, not of the applied (an object's first Set entry gives it a hash).
    const lost = new Set<Pending>()
    const stored: Pending[] = []
    const prepared: Prepared = { commit, tx, moved, pins, accepted, lost, stored, committed: undefined, failure: undefined }
    try {
      await host.prefetch(accepted.map((item) => item.update), tx)
      for (const item of accepted) {
        let won: boolean
        try {
          const result = host.applyUpdate(item.update, tx)
          won = typeof result === 'boolean' ? result : await result
        } catch (err) {
          // Storage failing under the data type's reads (a closed database) fails the whole batch, as anywhere else.
          const code = (err as { code?: unknown } | null)?.code
          if (typeof code === 'string' && (code.startsWith('LEVEL_') || code.startsWith('SCUTTLEDB_'))) throw err
          throw new ApplyFailure(item, accepted, err instanceof Error ? err : new Error(String(err)))
        }
        const [, ts, source] = item.update
        if (!won && moved.get(source) !== ts) continue
        item.bytes ??= pack(item.update)
        commit.putUpdate(source, ts, item.bytes)
        stored.push(item)
        if (!won) {
          lost.add(item)
          // Lost on arrival, but the latest of its source: kept (and sent on) for the clock.
          pins.set(source, ts)
          commit.putPin(source, ts)
        }
      }
      for (const [source, ts] of moved) {
        commit.putClock(source, ts)
        const old = pinnedBefore(source)
        if (old !== undefined && old < ts) {
          // The source moved on: its pinned, superseded update is no longer needed.
          commit.delUpdate(source, old)
          if (!pins.has(source)) {
            pins.set(source, null)
            commit.delPin(source)
          }
        }
      }
    } catch (err) {
      await commit.abort().catch(() => {})
      throw err
    }
    return prepared
  }

  /**
   * A remote update refused as too far ahead is sent again only if the clock
   * stays below it (a later sync asks from the clock): so none of its source's
   * later updates from the same stream may be taken while it is missing. Per
   * stream, per source, the earliest refused timestamp.
   */
  #holdBack (item: Pending): void {
    if (item.origin === undefined) return
    this.#holding = true
    let held = this.#held.get(item.origin)
    if (held === undefined) {
      held = new Map()
      this.#held.set(item.origin, held)
    }
    const [, ts, source] = item.update
    const earlier = held.get(source)
    if (earlier === undefined || ts < earlier) held.set(source, ts)
  }

  /** True when `item` would be taken past an update of its source that its stream brought too far ahead, still missing here. */
  #heldBack (item: Pending, latestOf: (source: Source) => number | undefined): boolean {
    if (!this.#holding || item.origin === undefined) return false
    const [, ts, source] = item.update
    const held = this.#held.get(item.origin)?.get(source)
    if (held === undefined || ts <= held) return false
    // It arrived meanwhile (from another peer): nothing is skipped any more.
    if ((latestOf(source) ?? 0) >= held) return false
    return true
  }

  /** Drop a remote update that is not newer than what this node holds (not an error). */
  #old (item: Pending, latestOf: (source: Source) => number | undefined): boolean {
    const [, ts, source] = item.update
    const latest = latestOf(source)
    if (latest === undefined || ts > latest) return false
    this.#host.stats.old++
    this.#emit('old', item.update)
    item.done?.(null)
    return true
  }

  /** Report a rejection; a throwing listener must not wedge the pipeline. */
  #reject (err: ScuttledbError): void {
    try {
      this.#host.reject(err)
    } catch (thrown) {
      queueMicrotask(() => { throw thrown })
    }
  }

  /** Emit an instance event; a throwing listener must not wedge the pipeline. */
  #emit (name: string, ...args: unknown[]): void {
    try {
      this.#host.emit(name, ...args)
    } catch (thrown) {
      queueMicrotask(() => { throw thrown })
    }
  }

  /**
   * Write a prepared commit; only then move the clock, announce the updates,
   * forward them to streams and settle their promises. A failed write is read
   * back: if it landed after all, it counts as written. Resolves false otherwise.
   */
  async #finish (prepared: Prepared): Promise<boolean> {
    const started = performance.now()
    let ms: number | undefined
    try {
      await prepared.commit.write(this.#host.sync)
      ms = performance.now() - started
    } catch (err) {
      prepared.failure = err as Error
      const landed = await this.#landed(prepared)
      if (landed !== true) {
        if (landed === undefined) this.#uncertain = prepared
        for (const item of prepared.accepted) item.done?.(err as Error)
        return false
      }
    }
    this.#announce(prepared)
    // After the clock moved: a listener reading it sees this commit.
    if (ms !== undefined) this.#emit('commit', prepared.accepted.length, ms)
    for (const item of prepared.accepted) item.done?.(null, item.update)
    return true
  }

  /** Whether a commit whose write failed is in storage: true, false, or undefined when unreadable. */
  async #landed (prepared: Prepared): Promise<boolean | undefined> {
    try {
      return await this.#host.storage.holdsClock(prepared.moved)
    } catch {
      return undefined
    }
  }

  /**
   * Learn the outcome of the commit that failed uncertainly: announce it when it
   * landed. False while storage still cannot be read.
   */
  async #settleUncertain (): Promise<boolean> {
    const prepared = this.#uncertain as Prepared
    const landed = await this.#landed(prepared)
    if (landed === undefined) return false
    this.#uncertain = undefined
    if (landed) this.#announce(prepared)
    return true
  }

  /** Move the in-memory clock and pins, count, forward to streams and emit: the commit is stored. */
  #announce (prepared: Prepared): void {
    const { moved, pins, lost, stored } = prepared
    const host = this.#host
    for (const [source, ts] of moved) host.clock.set(source, ts)
    for (const [source, ts] of pins) {
      if (ts === null) host.pinned.delete(source)
      else host.pinned.set(source, ts)
    }
    host.stats.commits++
    host.stats.committed += stored.length - lost.size
    // In commit order: a stream sends each source's updates in timestamp order and
    // skips anything at or below what it has sent.
    for (const item of stored) {
      this.#forward(item)
      if (lost.size > 0 && lost.has(item)) continue
      try {
        host.committed(item.update)
      } catch (err) {
        // A throwing listener is the application's bug: surface it as Node would,
        // but never leave the pipeline half-done.
        queueMicrotask(() => { throw err })
      }
    }
  }

  #forward (item: Pending): void {
    for (const stream of this.#host.streams) if (stream !== item.origin) stream._offer(item.update, item.bytes as Uint8Array)
  }
}

/** A batch checked and applied into a commit, on its way to storage. */
interface Prepared {
  commit: Commit
  tx: Transaction
  /** The clock entries this commit moves. */
  moved: Clock
  /** Pins this commit sets (source -> ts) or removes (null). */
  pins: Map<Source, number | null>
  /** Every item settled by this commit. */
  accepted: Pending[]
  /** Every update written to the log, in commit order (all are forwarded to streams). */
  stored: Pending[]
  /**
   * The stored updates that lost on arrival, kept only as their source's latest
   * (for the clock); the others changed the data and are announced.
   */
  lost: Set<Pending>
  /** Resolves true once written and announced, false if the write failed. */
  committed: Promise<boolean> | undefined
  failure: Error | undefined
}

/** A data type's `_applyUpdate` threw on `item`, one of the accepted updates of a batch. */
class ApplyFailure extends Error {
  constructor (readonly item: Pending, readonly batch: Pending[], override readonly cause: Error) {
    super(cause.message)
  }

  /** What `item` is failed with: a peer's update is refused (coded); a local write rejects with the data type's own error. */
  failure (item: Pending): Error {
    if (item.local) return this.cause
    return error(codes.INVALID_MESSAGE, `The data type could not apply an update: ${this.cause.message}`, { cause: this.cause, update: item.update })
  }
}
