// Type test of the subclassing API (docs/subclassing.md) and the conformance suite, against
// dist/: the protected hooks, _space and _storage must survive stripInternal.
import test from 'tape'
import { MemoryLevel } from 'memory-level'
import {
  Events, Model, Scuttlebutt, Value, suite, listen,
  type DataSpace, type Replicable, type ScuttlebuttOptions, type Transaction, type Update
} from 'scuttledb'
import { expectType } from './expect.js'

export class Counter extends Scuttlebutt {
  #space?: DataSpace
  #increments: Promise<unknown> = Promise.resolve()

  get #totals (): DataSpace {
    return (this.#space ??= this._space('totals'))
  }

  async increment (amount = 1): Promise<void> {
    const next = this.#increments.then(async () => {
      const mine = await this._storage.get(this.#totals, this.id) as [number, number] | undefined
      await this.localUpdate((mine?.[1] ?? 0) + amount)
    })
    this.#increments = next.catch(() => {})
    await next
  }

  async value (): Promise<number> {
    let sum = 0
    for await (const [, entry] of this._storage.iterate(this.#totals)) sum += (entry as [number, number])[1]
    return sum
  }

  protected override _validateChange (change: unknown): boolean {
    return Number.isSafeInteger(change) && (change as number) > 0
  }

  protected override async _applyUpdate (update: Update, tx: Transaction): Promise<boolean> {
    const [total, ts, source] = update as Update<number>
    const current = await tx.get(this.#totals, source) as [number, number] | undefined
    if (current !== undefined) {
      if (total <= current[1]) return false
      tx.dropUpdate(current[0], source)
    }
    tx.put(this.#totals, source, [ts, total])
    return true
  }
}

export function conformance (): void {
  const database = async (): Promise<{ db: MemoryLevel, close: () => Promise<void> }> => {
    const db = new MemoryLevel()
    return { db, close: async () => { await db.close() } }
  }
  suite({
    test,
    name: 'Counter',
    database,
    create: (options: ScuttlebuttOptions) => new Counter(options),
    write: async (counter, random) => { await counter.increment(1 + Math.floor(random() * 5)) },
    state: async (counter) => { expectType(counter)<Counter>(true); return await counter.value() }
  })
  suite({
    test,
    name: 'Model<number>',
    database,
    create: (options) => new Model<number>(options),
    write: async (model, random) => { await model.set('k', random()) },
    state: async (model) => await model.toJSON()
  })
  suite({ test, name: 'Events', database, create: (o) => new Events<{ e: [n: number] }>(o), write: async (x) => { await x.record('e', 1) }, state: async () => null })
  // @ts-expect-error a Model has no increment()
  suite({ test, name: 'wrong', database, create: (o) => new Model(o), write: async (m: Counter) => { await m.increment() }, state: async () => null })
}

export function replicables (): Replicable[] {
  const db = new MemoryLevel()
  const all: Replicable[] = [new Model<{ a: string }>({ db }), new Events<{ e: [] }>({ db }), new Value<number>({ db }), new Counter({ db })]
  void listen(all[0], { port: 0 })
  return all
}
