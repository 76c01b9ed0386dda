// The README's typed examples (Model, Events, Value sections), as written there, against dist/.
import { Events, Model, Value, type Database } from 'scuttledb'
import { expectType } from './expect.js'

declare const db: Database

interface Todo { title: string, done: boolean }

export async function model (): Promise<void> {
  const todo = new Model<{ title: string, done: boolean }>({ db })
  await todo.set('done', false)
  const title = await todo.get('title')        // string | undefined
  // @ts-expect-error: done is a boolean
  await todo.set('done', 'x')
  todo.on('change:done', (done) => {})         // done: boolean | null (null: deleted)
  const counts = new Model<number>({ db })     // every value a number
  expectType(title)<string | undefined>(true)
  expectType(await counts.get('k'))<number | undefined>(true)
  // "give Model<T> the type itself": an interface works as a schema.
  const todos = new Model<Todo>({ db })
  expectType(await todos.get('done'))<boolean | undefined>(true)
  // ... but an interface value is not a Json (no index signature).
  const plain: Todo = { title: 't', done: false }
  // @ts-expect-error: an interface is not a Json
  await new Model({ db }).set('k', plain)
}

export function events (): void {
  const chat = new Events<{ chat: [msg: string], join: [user: string, at: number] }>({ db })
  chat.on('chat', (msg) => console.log(msg.toUpperCase()))   // msg: string
  chat.emit('join', 'ann', Date.now())
  // @ts-expect-error: chat takes a string
  chat.emit('chat', 42)
}

export async function value (): Promise<void> {
  const position = new Value<{ x: number, y: number }>({ db })
  await position.set({ x: 1, y: 2 })
  const p = await position.get()               // { x: number, y: number } | undefined
  expectType(p)<{ x: number, y: number } | undefined>(true)
}
