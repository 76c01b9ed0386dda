// Type test of Model<T> and Value<T>, compiled by test/types.test.ts against the built
// declarations (dist/, through the package's own "exports"), as a user's strict tsc sees them.
import { MemoryLevel } from 'memory-level'
import { Model, Value, type Json, type ModelEntry, type ScuttledbError, type ScuttlebuttStatus } from 'scuttledb'

import { expectType, is } from './expect.js'

export async function schema (): Promise<void> {
  const todo = new Model<{ title: string, done: boolean }>({ db: new MemoryLevel() })
  await todo.set('title', 'Buy milk')
  await todo.set('done', false)
  expectType(await todo.get('title'))<string | undefined>(true)
  expectType(await todo.get('done'))<boolean | undefined>(true)
  // @ts-expect-error a boolean key takes booleans
  await todo.set('done', 'x')
  // @ts-expect-error an unknown key
  await todo.set('other', 'x')
  // @ts-expect-error an unknown key
  await todo.get('other')
  for await (const [key, value] of todo) {
    if (key === 'title') expectType(value)<string>(true)
    else expectType(value)<boolean>(true)
  }
  expectType(await todo.toJSON())<{ title?: string, done?: boolean }>(true)
  todo.on('change', (key, value) => {
    expectType(key)<'title' | 'done'>(true)
    if (key === 'done') expectType(value)<boolean | null>(true)
  })
  todo.on('change:done', (value) => { expectType(value)<boolean | null>(true) })
  // @ts-expect-error change:title carries a string (or null), not a number
  todo.on('change:title', (value: number) => value)
}

export async function everyValue (): Promise<void> {
  const counts = new Model<number>({ db: new MemoryLevel() })
  await counts.set('a', 1)
  expectType(await counts.get('any key'))<number | undefined>(true)
  // @ts-expect-error every value is a number
  await counts.set('a', 'one')
  expectType(is<ModelEntry<number>>())<[key: string, value: number]>(true)
  for await (const value of counts.values()) expectType(value)<number>(true)
}

export async function defaults (): Promise<void> {
  const model = new Model({ db: new MemoryLevel() })
  await model.set('k', { nested: [1, 'two', null, true, new Uint8Array(2)] })
  await model.set('gone', null)
  expectType(await model.get('k'))<Exclude<Json, null> | undefined>(true)
  // @ts-expect-error undefined is outside the value domain (use delete())
  await model.set('k', undefined)
  // @ts-expect-error a Date is outside the value domain
  await model.set('k', new Date())
  // @ts-expect-error keys are strings
  await model.set(1, 'x')
  model.on('update', (change, ts, source) => {
    expectType(change)<[key: string, value: Json]>(true)
    expectType(ts)<number>(true)
    expectType(source)<string>(true)
  })
  model.on('unstream', (count) => { expectType(count)<number>(true) })
  model.on('rejected', (err) => { expectType(err)<ScuttledbError>(true) })
  // @ts-expect-error unstream carries a count
  model.on('unstream', (count: string) => count)
  expectType(model.status)<ScuttlebuttStatus>(true)
  expectType(model.status)<'new' | 'opening' | 'open' | 'closing' | 'closed'>(true)
  // @ts-expect-error status is a union, not any string
  if (model.status === 'opened') return
}

export async function value (): Promise<void> {
  const v = new Value<{ x: number, y: number }>({ db: new MemoryLevel() })
  await v.set({ x: 1, y: 2 })
  expectType(await v.get())<{ x: number, y: number } | undefined>(true)
  // @ts-expect-error y is missing
  await v.set({ x: 1 })
  v.on('change', (value) => { expectType(value)<{ x: number, y: number }>(true) })
  const any = new Value({ db: new MemoryLevel() })
  expectType(await any.get())<Json | undefined>(true)
  // @ts-expect-error a function is outside the value domain
  await any.set(() => 1)
}
