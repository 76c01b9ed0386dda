import { ScuttledbError, codes } from './errors.js'
import type { Source, Update } from './protocol.js'
import { Scuttlebutt, type ScuttlebuttEvents, type ScuttlebuttOptions } from './scuttlebutt.js'
import type { DataSpace } from './storage.js'
import type { Transaction } from './transaction.js'

/** The Counter's events (besides every Scuttlebutt's). */
export interface CounterEvents extends ScuttlebuttEvents {
  /** A node's running total grew. */
  change: [source: Source, total: number]
}

/**
 * A grow-only counter, and the worked example of docs/subclassing.md. Each node
 * publishes its own running total; a node's newer total supersedes its older one,
 * so storage and history hold one update per node, and the counter's value is
 * the sum of the latest totals.
 */
export class Counter extends Scuttlebutt<CounterEvents> {
  static override readonly wireType: string | undefined = 'Counter'
  #space: DataSpace | undefined
  #increments: Promise<unknown> = Promise.resolve()

  constructor (options: ScuttlebuttOptions) {
    super(options)
  }

  /** Per-source latest totals: `source -> [ts, total]`. */
  get #totals (): DataSpace {
    this.#space ??= this._space('totals')
    return this.#space
  }

  /** Add `amount` (a positive integer); resolves once durable. */
  async increment (amount = 1): Promise<void> {
    if (!Number.isSafeInteger(amount) || amount <= 0) throw new TypeError('amount must be a positive integer')
    // One increment at a time: each reads the total the previous one wrote. A task, so
    // that an increment called before close() still commits (close() waits for it).
    const previous = this.#increments
    const next = this._task(async ({ storage, submit }) => {
      await previous
      const mine = await storage.get(this.#totals, this.id) as [number, number] | undefined
      await submit((mine?.[1] ?? 0) + amount)
    })
    this.#increments = next.catch(() => {})
    await next
  }

  /**
   * The sum of every node's latest total. Each node's total is a safe integer,
   * but their sum may not be: then it rejects with SCUTTLEDB_INVALID_VALUE
   * rather than resolve with a rounded number (`bigValue()` reads it exactly).
   */
  async value (): Promise<number> {
    const sum = await this.bigValue()
    if (sum > BigInt(Number.MAX_SAFE_INTEGER)) {
      throw new ScuttledbError(`The counter's value ${sum} is above Number.MAX_SAFE_INTEGER: read it with bigValue()`, codes.INVALID_VALUE)
    }
    return Number(sum)
  }

  /** The sum of every node's latest total, exactly, whatever its size. */
  async bigValue (): Promise<bigint> {
    let sum = 0n
    try {
      for await (const [, entry] of this._storage.iterate(this.#totals)) sum += BigInt((entry as [number, number])[1])
    } catch (err) {
      throw this._readError(err)
    }
    return sum
  }

  protected override _validateChange (change: unknown): boolean {
    return Number.isSafeInteger(change) && (change as number) > 0
  }

  protected override async _applyUpdate (update: Update, tx: Transaction): Promise<boolean> {
    const [total, ts, source] = update as Update<number>
    const current = await tx.get(this.#totals, source) as [number, number] | undefined
    // A source's newer update replaces its older one, even with a smaller total (a node
    // restarted from an older copy of its database): every node then holds that node's
    // latest total. Refusing it by total left the peers with the old total for good.
    if (current !== undefined) {
      if (ts <= current[0]) return false
      tx.dropUpdate(current[0], source as Source)
    }
    tx.put(this.#totals, source, [ts, total])
    return true
  }

  protected override _committed (update: Update): void {
    this.emit('change', update[2], update[0] as number)
  }
}
