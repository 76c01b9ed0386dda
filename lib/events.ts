import { EventEmitter } from 'events'
import { codes, error } from './errors.js'
import { isWellFormed, originalKey, type Update } from './protocol.js'
import { Scuttlebutt, type ScuttlebuttEvents, type ScuttlebuttOptions } from './scuttlebutt.js'
import type { Json } from './value-domain.js'

/** The listener each once() wrapper calls, so that off() given that listener finds the wrapper. */
const onceOriginal = new WeakMap<EventListener<unknown[]>, EventListener<unknown[]>>()

/**
 * The most arguments an event may have: far beyond real events, far below the engine's
 * limit on a call's arguments (about 120k on Node's default stack, less in a deeper call),
 * past which calling a listener throws; a listener that passes them on (`once()`'s
 * wrapper does) needs that room again.
 */
export const MAX_EVENT_ARGS = 4096

/** How long and how many events an Events instance keeps. */
export interface Retention {
  /** Forget events older than this many milliseconds. */
  maxAge?: number
  /** Keep at most about this many events (pruned in steps of 10%). */
  maxCount?: number
}

/** Options of an Events instance. */
export interface EventsOptions extends ScuttlebuttOptions {
  /** Forget old events (the original kept every event forever). Default: keep all. */
  retention?: Retention
}

/**
 * A listener of a replicated event. Checked bivariantly (a method's parameter):
 * on an untyped Events, `(msg: string) => ...` may say what it expects of a
 * `Json` argument; a listener whose parameters cannot match is still refused.
 */
export type EventListener<A extends unknown[] = Json[]> = { listener (...args: A): void }['listener']

/**
 * The events an Events instance carries: each event name to the types of its
 * arguments, e.g. `{ chat: [msg: string], join: [user: string, at: number] }`.
 */
export type EventMap<M> = { [K in keyof M]: unknown[] }

/** The default event map: any name, with arguments in the value domain. */
export type AnyEventMap = Record<string, Json[]>

/** The names of an event map's events. */
export type EventName<M> = keyof M & string

/** The events of `Events#lifecycle`: every Scuttlebutt's, and `error` for a failed `emit()`. */
export interface EventsLifecycle extends ScuttlebuttEvents {
  /**
   * A commit of `emit()` failed (nobody awaits it). Without a listener it goes to
   * `process.emitWarning` (or `console.warn` where there is no `process`), never thrown.
   */
  error: [err: Error]
}

/** The count past which a prune starts, given maxCount and what the last prune kept. */
function pruneThreshold (maxCount: number, kept: number): number {
  const base = Math.max(maxCount, kept)
  return base + Math.max(10, base / 10)
}

/**
 * A reliable, persisted event emitter. `emit(event, data)` records the event
 * durably and replicates it; `on(event, listener)` hears local and remote events,
 * also those emitted before two emitters were connected or while this one was
 * down. Event names are plain data: `error`, `newListener` or `__proto__` have no
 * special meaning here. The instance's own events (update, rejected, old,
 * unstream, dispose) are on `lifecycle`.
 */
// Scuttlebutt<never>: the inherited emitter never carries replicated events (its
// listener methods are overridden below), so its other methods take no event name.
export class Events<M extends EventMap<M> = AnyEventMap> extends Scuttlebutt<never> {
  static override readonly wireType: string | undefined = 'Events'
  /** The instance's own events, kept apart from replicated event names. */
  readonly lifecycle = new EventEmitter<EventsLifecycle>()
  readonly #listeners = new Map<string, Array<EventListener<unknown[]>>>()
  readonly #retention: Retention
  #count = 0
  /**
   * The count past which an event starts a prune: 10% above maxCount, or above what the
   * last prune left when that is more (sources' latest events it may not remove), so
   * that many sources do not make every event read the whole log again.
   */
  #pruneAt = Infinity
  #pruning: Promise<void> | undefined

  constructor (options: EventsOptions) {
    super(options)
    const retention = options.retention ?? {}
    if (retention === null || typeof retention !== 'object') throw new TypeError('options.retention must be an object { maxAge?, maxCount? }')
    if (retention.maxAge !== undefined && !(typeof retention.maxAge === 'number' && retention.maxAge > 0)) throw new TypeError('retention.maxAge must be a positive number')
    if (retention.maxCount !== undefined && !(Number.isInteger(retention.maxCount) && retention.maxCount > 0)) {
      throw new TypeError('retention.maxCount must be a positive integer')
    }
    this.#retention = retention
    if (retention.maxCount !== undefined) this.#pruneAt = pruneThreshold(retention.maxCount, 0)
    this.lifecycle.setMaxListeners(0)
  }

  override async open (): Promise<void> {
    await super.open()
    // Closed meanwhile (close() right after open()): open() resolves, as the base class's does.
    if (this.status !== 'open') return
    try {
      if (this.#retention.maxCount !== undefined) this.#count = await this._storage.countUpdates()
      if (this.#retention.maxCount !== undefined || this.#retention.maxAge !== undefined) await this.prune()
    } catch (err) {
      // A close() made meanwhile stops these reads (calls are refused): that is no failure to open.
      if (this.status === 'open') throw err
    }
  }

  protected override async _closing (): Promise<void> {
    // A pass under way stops at its next read (the instance refuses them now); the next open prunes again.
    await this.#pruning?.catch(() => {})
  }

  /**
   * Record and replicate an event (the seed's calling style). Returns true.
   * Use `record()` to wait until the event is durable.
   */
  override emit<K extends EventName<M>> (event: K, ...args: M[K]): boolean {
    // A caller's mistake throws here, at the call; only storage failures arrive later.
    if (typeof event !== 'string') throw new TypeError('An event name must be a string')
    this._submit([event, ...args], true).catch((err: unknown) => { this.#commitFailed(err as Error) })
    return true
  }

  /**
   * Report a failed background commit of `emit()`. Nobody awaits it, so an
   * 'error' without a listener (or a rethrow) would end the process over a failing store.
   */
  #commitFailed (err: Error): void {
    if (this.lifecycle.listenerCount('error') > 0) {
      this.lifecycle.emit('error', err)
      return
    }
    // The browser entry has no `process`.
    const proc = (globalThis as { process?: { emitWarning?: (warning: Error) => void } }).process
    if (typeof proc?.emitWarning === 'function') proc.emitWarning(err)
    else console.warn(err)
  }

  /** Record and replicate an event; resolves with the update once it is durable. */
  async record<K extends EventName<M>> (event: K, ...args: M[K]): Promise<Update<[event: K, ...args: M[K]]>> {
    if (typeof event !== 'string') throw new TypeError('An event name must be a string')
    return await this._submit([event, ...args], true) as Update<[event: K, ...args: M[K]]>
  }

  /** Listen to a replicated event. */
  override on<K extends EventName<M>> (event: K, listener: EventListener<M[K]>): this {
    if (typeof listener !== 'function') throw new TypeError('A listener must be a function')
    // Names are stored as strings (a peer's `emit(5)` arrives as '5'): a listener of 5 would never hear anything.
    if (typeof event !== 'string') throw new TypeError('An event name must be a string')
    const list = this.#listeners.get(event)
    if (list === undefined) this.#listeners.set(event, [listener as EventListener<unknown[]>])
    else list.push(listener as EventListener<unknown[]>)
    return this
  }

  /** Same as `on()`. */
  override addListener<K extends EventName<M>> (event: K, listener: EventListener<M[K]>): this {
    return this.on(event, listener)
  }

  /** Listen to the next occurrence of a replicated event only. */
  override once<K extends EventName<M>> (event: K, listener: EventListener<M[K]>): this {
    const wrapper: EventListener<M[K]> = (...args) => {
      this.off(event, wrapper)
      listener(...args)
    }
    onceOriginal.set(wrapper as EventListener<unknown[]>, listener as EventListener<unknown[]>)
    return this.on(event, wrapper)
  }

  /** Stop listening. */
  override off<K extends EventName<M>> (event: K, listener: EventListener<M[K]>): this {
    const list = this.#listeners.get(event)
    if (list === undefined) return this
    // As on an EventEmitter: the listener given to once() removes its wrapper; the latest added goes first.
    const given = listener as EventListener<unknown[]>
    let i = list.length - 1
    while (i >= 0 && list[i] !== given && onceOriginal.get(list[i] as EventListener<unknown[]>) !== given) i--
    if (i !== -1) list.splice(i, 1)
    if (list.length === 0) this.#listeners.delete(event)
    return this
  }

  /** Same as `off()`. */
  override removeListener<K extends EventName<M>> (event: K, listener: EventListener<M[K]>): this {
    return this.off(event, listener)
  }

  /** Remove every listener of one event, or of all events. */
  override removeAllListeners (event?: EventName<M>): this {
    if (event === undefined) this.#listeners.clear()
    else this.#listeners.delete(event)
    return this
  }

  /** How many listeners an event has. */
  override listenerCount (event: EventName<M>): number {
    return this.#listeners.get(event)?.length ?? 0
  }

  /** Forget events outside the retention policy now (also done as events arrive). */
  async prune (): Promise<void> {
    if (this.status !== 'open') throw error(codes.NOT_OPEN, 'The instance is not open')
    // A pass already running may have started before the latest events: run a fresh one after it.
    while (this.#pruning !== undefined) await this.#pruning.catch(() => {})
    this.#startPrune()
    await this.#pruning
  }

  #startPrune (): void {
    this.#pruning ??= this.#prune().finally(() => { this.#pruning = undefined })
  }

  async #prune (): Promise<void> {
    const storage = this._storage
    const { maxAge, maxCount } = this.#retention
    // Each source's latest event stays, whatever its age or rank: it backs that source's clock
    // entry, so that a peer synced from this node gets the same clock (docs/storage.md).
    if (maxAge !== undefined) {
      const before = this._horizon()
      for (const [source, latest] of this._clockCopy()) await storage.clearUpdates(source, Math.min(before, latest))
      if (maxCount !== undefined) this.#count = await storage.countUpdates()
    }
    if (maxCount !== undefined && this.#count > maxCount) {
      let excess = this.#count - maxCount
      const latest = this._clockCopy()
      const cursor = this._cursor(new Map())
      const commit = storage.batch()
      try {
        for (let entry = await cursor.next(); entry !== undefined && excess > 0; entry = await cursor.next()) {
          if (latest.get(entry.source) === entry.ts) continue
          commit.delUpdate(entry.source, entry.ts)
          excess--
        }
        const removed = commit.length
        await commit.write(false)
        this.#count -= removed
        this.#pruneAt = pruneThreshold(maxCount, this.#count)
      } finally {
        await cursor.close()
      }
    }
  }

  protected override get _lifecycle (): EventEmitter<ScuttlebuttEvents> {
    return this.lifecycle as unknown as EventEmitter<ScuttlebuttEvents>
  }

  protected override _horizon (): number {
    const { maxAge } = this.#retention
    return maxAge === undefined ? 0 : this._wall() - maxAge
  }

  protected override _validateChange (change: unknown): boolean {
    // More arguments could not be spread into a listener's call: it would throw as the event is announced.
    return Array.isArray(change) && change.length >= 1 && change.length <= MAX_EVENT_ARGS + 1 && typeof change[0] === 'string' && isWellFormed(change[0])
  }

  /** The original's `emit(5, data)` is heard by its listeners of '5' (EventEmitter names are keys): stored as that name. */
  protected override _fromJson (change: unknown): unknown {
    return Array.isArray(change) && change.length >= 1 && typeof change[0] !== 'string' ? [originalKey(change[0]), ...change.slice(1)] : change
  }

  protected override _applyUpdate (update: Update): boolean {
    // An event already outside the retention window is not kept or announced.
    return update[1] >= this._horizon()
  }

  protected override _committed (update: Update): void {
    this.#count++
    const [event, ...args] = update[0] as [string, ...unknown[]]
    const list = this.#listeners.get(event)
    if (list !== undefined) for (const listener of [...list]) listener(...args)
    const { maxCount, maxAge } = this.#retention
    if ((maxCount !== undefined && this.#count > this.#pruneAt) ||
      (maxAge !== undefined && this.#count % 1000 === 0)) {
      this.#startPrune()
      this.#pruning?.catch(() => {})
    }
  }
}
