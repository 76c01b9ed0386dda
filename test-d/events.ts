// Type test of Events<M>, streams and the options, against dist/ (see model.ts).
import { MemoryLevel } from 'memory-level'
import { Events, Model, ReplicationStream, type Database, type Header, type Json, type SyncProgress, type Update } from 'scuttledb'

import { expectType } from './expect.js'

export async function typedEvents (): Promise<void> {
  const chat = new Events<{ chat: [msg: string], join: [user: string, at: number] }>({ db: new MemoryLevel() })
  chat.emit('chat', 'hello')
  chat.on('chat', (msg) => { expectType(msg)<string>(true) })
  chat.on('join', (user, at) => { expectType(user)<string>(true); expectType(at)<number>(true) })
  const update = await chat.record('join', 'ann', 1)
  expectType(update[0])<[event: 'join', user: string, at: number]>(true)
  // @ts-expect-error chat takes one string
  chat.emit('chat', 1)
  // @ts-expect-error join takes two arguments
  chat.emit('join', 'ann')
  // @ts-expect-error not an event of the map
  chat.emit('leave', 'ann')
  // @ts-expect-error not an event of the map
  chat.on('leave', () => {})
  // @ts-expect-error a chat message is a string
  chat.on('chat', (msg: number) => msg)
}

export async function untypedEvents (): Promise<void> {
  const events = new Events({ db: new MemoryLevel() })
  events.emit('chat', 'hello', { n: 1 })
  // A listener may say what it expects of a Json argument.
  events.on('chat', (msg: string) => msg)
  events.on('chat', (msg) => { expectType(msg)<Json>(true) })
  // @ts-expect-error a Date is outside the value domain
  events.emit('chat', new Date())
  // @ts-expect-error a Date can never arrive
  events.on('chat', (msg: Date) => msg)
  events.lifecycle.on('update', (change, ts) => { expectType(change)<unknown>(true); expectType(ts)<number>(true) })
  events.lifecycle.on('error', (err) => { expectType(err)<Error>(true) })
  events.lifecycle.on('unstream', (count) => { expectType(count)<number>(true) })
  // @ts-expect-error the lifecycle has its own events only
  events.lifecycle.on('chat', () => {})
  expectType(await events.record('chat', 'x'))<Update<[event: 'chat', ...args: Json[]]>>(true)
}

export async function streams (model: Model): Promise<void> {
  const stream = model.createStream({ wrapper: 'json', meta: { room: 1 } })
  expectType(stream)<ReplicationStream>(true)
  stream.on('header', (header) => { expectType(header)<Header>(true) })
  stream.on('progress', (progress) => { expectType(progress)<SyncProgress>(true) })
  stream.on('sync', () => {})
  stream.on('data', (chunk) => { expectType(chunk)<Buffer>(true) })
  stream.on('header', (header) => {
    // @ts-expect-error a header's id is a string
    const n: number = header.id
    return n
  })
  // @ts-expect-error wrapper is 'msgpack' or 'json'
  model.createStream({ wrapper: 'xml' })
  // @ts-expect-error streams come from createStream()
  const fake = new ReplicationStream({})
  return fake === stream ? undefined : undefined
}

export function options (): void {
  const db: Database = new MemoryLevel({ valueEncoding: 'buffer' })
  const sub: Database = new MemoryLevel().sublevel('docs').sublevel('doc-1')
  void new Model({ db, id: 'A' })
  void new Model({ db: sub })
  void new Model({ db: '/tmp/dir' })
  // @ts-expect-error a database is an abstract-level instance or a path
  void new Model({ db: {} })
  // @ts-expect-error sync is a boolean
  void new Model({ db, sync: 'yes' })
}
