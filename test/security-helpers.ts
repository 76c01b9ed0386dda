// Shared parts of test/security*.test.ts: secured models, a tampering relay link,
// and the A -> B -> C -> D topology (A signs, B relays, C verifies, D is an
// unsecured sink that would store anything C forwarded).
import net from 'node:net'
import { once } from 'node:events'
import { pipeline, Transform, type Duplex, type TransformCallback } from 'node:stream'
import type { Test } from 'tape'
import { createSecurity, generateKeys, securityOptions, type KeyPair, type Model, type ReplicationStream, type ScuttlebuttOptions, type Security, type Update } from '../lib/index.js'
import { pack, unpack } from '../lib/msgpack.js'
import { diskModel, link, memoryModel } from './helpers.js'

/** An open Model on memory-level that signs with `keys` (id = the key's id). */
export async function securedModel (t: Test, keys: KeyPair, options: Partial<ScuttlebuttOptions> = {}): Promise<Model> {
  return await memoryModel(t, { ...securityOptions(keys), ...options })
}

/** A verify-only backend that records every update its verifyBatch is asked about (`asked`), in order. */
export function countingSecurity (): { security: Security, asked: Update[] } {
  const inner = createSecurity()
  const asked: Update[] = []
  const security: Security = {
    sign: () => { throw new Error('verify only') },
    verify: (u) => inner.verifySync(u),
    verifyBatch: async (updates) => {
      asked.push(...updates)
      return await inner.verifyBatch(updates)
    }
  }
  return { security, asked }
}

/** True for a decoded value that is an update (the protocol's only arrays). */
export function isUpdate (value: unknown): value is Update {
  return Array.isArray(value) && (value.length === 3 || value.length === 4)
}

/** What a tamper function does with one decoded value: the values to send instead (the same one passes its bytes through). */
export type TamperFn = (value: unknown) => unknown[]

/**
 * A hostile relay's hands on the wire: decodes msgpack frames (a 4-byte
 * big-endian length, then one msgpack value), lets `fn` replace, drop or add
 * values, and re-encodes what it returns. `inject` sends a value at any time.
 */
export class Tamper extends Transform {
  #fn: TamperFn
  #pending = Buffer.alloc(0)
  /** Every value seen on the way through, before tampering. */
  readonly seen: unknown[] = []

  constructor (fn: TamperFn = (v) => [v]) {
    super()
    this.#fn = fn
  }

  set fn (fn: TamperFn) {
    this.#fn = fn
  }

  /** Send `value` as one frame, now. */
  inject (value: unknown): void {
    this.push(frame(value))
  }

  override _transform (chunk: Buffer, _enc: BufferEncoding, callback: TransformCallback): void {
    let buf = Buffer.concat([this.#pending, chunk])
    while (buf.length >= 4 && buf.length >= 4 + buf.readUInt32BE(0)) {
      const end = 4 + buf.readUInt32BE(0)
      const bytes = buf.subarray(0, end)
      const value = unpack(bytes.subarray(4))
      this.seen.push(value)
      for (const out of this.#fn(value)) this.push(out === value ? Buffer.from(bytes) : frame(out))
      buf = buf.subarray(end)
    }
    this.#pending = Buffer.from(buf)
    callback()
  }
}

/** One msgpack frame as the protocol sends it. */
export function frame (value: unknown): Buffer {
  const body = pack(value)
  const head = Buffer.alloc(4)
  head.writeUInt32BE(body.length)
  return Buffer.concat([head, body])
}

/** A TCP connection on 127.0.0.1: [client socket, server socket], destroyed when the test ends. */
export async function tcpPair (t: Test): Promise<[net.Socket, net.Socket]> {
  const server = net.createServer()
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const accepted = once(server, 'connection') as Promise<[net.Socket]>
  const client = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1')
  const [serverSocket] = await accepted
  await once(client, 'connect')
  t.teardown(async () => {
    client.destroy()
    serverSocket.destroy()
    await new Promise((resolve) => server.close(resolve))
  })
  return [client, serverSocket]
}

/** Where B's output to C goes through a Tamper: in process, or over a real TCP connection. */
export type Transport = 'in-process' | 'tcp'

/**
 * Connect `from` to `to` with a Tamper on the from -> to direction. Resolves
 * with `synced` (both streams emitted sync) still pending.
 */
export async function tamperedLink (t: Test, from: Model, to: Model, tamper: Tamper, transport: Transport): Promise<{ synced: Promise<void>, streams: [ReplicationStream, ReplicationStream] }> {
  const sf = from.createStream()
  const st = to.createStream()
  const synced = Promise.all([once(sf, 'sync'), once(st, 'sync')]).then(() => {})
  const done = (): void => {}
  if (transport === 'in-process') {
    pipeline(sf, tamper, st, sf, done)
  } else {
    const [client, server] = await tcpPair(t)
    pipeline(sf, tamper, client as Duplex, sf, done)
    pipeline(st, server, st, done)
  }
  return { synced, streams: [sf, st] }
}

/** The relay topology of the rejection tests. */
export interface Relay {
  keysA: KeyPair
  /** The signer. */
  a: Model
  /** The relay (secured unless `relaySecured: false`). */
  b: Model
  /** The verifier, on classic-level on disk. */
  c: Model
  /** An unsecured sink linked to C: it stores anything C forwards. */
  d: Model
  /** On B's output to C. */
  tamper: Tamper
}

export interface RelayOptions {
  transport?: Transport
  tamper?: TamperFn
  /** C's writers' allow-list. */
  writers?: ScuttlebuttOptions['writers']
  relaySecured?: boolean
  keysA?: KeyPair
}

/** A signs, B relays, C verifies (B -> C through a Tamper), D listens to C. Resolves once every link is synced. */
export async function relay (t: Test, options: RelayOptions = {}): Promise<Relay> {
  const keysA = options.keysA ?? generateKeys()
  const a = await securedModel(t, keysA)
  const b = options.relaySecured === false ? await memoryModel(t) : await securedModel(t, generateKeys())
  const c = await diskModel(t, { ...securityOptions(generateKeys()), ...(options.writers !== undefined ? { writers: options.writers } : {}) })
  const d = await memoryModel(t)
  const tamper = new Tamper(options.tamper)
  const ab = link(a, b)
  const bc = await tamperedLink(t, b, c, tamper, options.transport ?? 'in-process')
  const cd = link(c, d)
  await Promise.all([ab.synced, bc.synced, cd.synced])
  return { keysA, a, b, c, d, tamper }
}

/** The update of `model` for `key` (its history holds one per key). */
export async function updateFor (model: Model, key: string): Promise<Update | undefined> {
  for await (const update of model.history()) if ((update[0] as [string])[0] === key) return update
  return undefined
}
