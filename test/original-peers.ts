// Real peers in child processes for the mixed-network tests (test/compat-tail-false.test.ts): an original scuttlebutt@5.6.15 node (Model,
// Events, or r-value) or a scuttledb node (wrapper 'json', on disk), each driven over IPC,
// replicating over TCP on 127.0.0.1 as users run them: the original's createStream() piped to a
// net socket both ways, scuttledb's stream in a pipeline with its socket.
import { fork, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, dirname } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import type { Test } from 'tape'

const here = dirname(fileURLToPath(import.meta.url))
const libUrl = pathToFileURL(join(here, '..', 'lib', 'index.js')).href

const CHILD = String.raw`
const net = require('node:net')
const { pipeline } = require('node:stream')
const kind = process.env.KIND
const id = process.env.ID || undefined
let node
const sockets = new Map()
let nextConn = 0
const send = (m) => { try { process.send(m) } catch {} }
function attach (socket, opts, conn) {
  sockets.set(conn, socket)
  socket.on('error', (err) => send({ ev: 'socketError', conn, err: String(err && err.code || err) }))
  socket.on('close', () => { sockets.delete(conn); send({ ev: 'closed', conn }) })
  if (kind.startsWith('db-')) {
    const stream = node.createStream({ ...opts, wrapper: 'json' })
    stream.on('sync', () => send({ ev: 'sync', conn }))
    pipeline(stream, socket, stream, (err) => { if (err) send({ ev: 'streamError', conn, err: String(err.code || err.message) }) })
  } else {
    const stream = node.createStream(opts)
    stream.on('error', (err) => send({ ev: 'streamError', conn, err: String(err) }))
    stream.on('sync', () => send({ ev: 'sync', conn }))
    socket.pipe(stream).pipe(socket)
  }
}
async function state () {
  if (kind === 'db-model') {
    const winners = {}
    for await (const [[key], ts, source] of node.history()) {
      const h = winners[key]
      if (h === undefined || ts > h[0] || (ts === h[0] && source > h[1])) winners[key] = [ts, source]
    }
    return { data: await node.toJSON(), clock: node.clock, winners }
  }
  if (kind === 'original-model') {
    const winners = {}
    for (const k of Object.keys(node.store)) { const u = node.store[k]; if (u[0][1] !== null) winners[k] = [u[1], u[2]]; else winners[k] = [u[1], u[2]] }
    return { data: node.toJSON(), clock: { ...node.sources }, winners }
  }
  if (kind === 'db-events' || kind === 'db-value') {
    const h = []
    for await (const u of node.history()) h.push(u)
    return { history: h.map((u) => u.slice(0, 3)), clock: node.clock, value: kind === 'db-value' ? await node.get() : undefined }
  }
  if (kind === 'original-events') return { history: node.history({}).map((u) => u.slice(0, 3)), clock: { ...node.sources } }
  if (kind === 'rvalue') return { history: node.history({}).map((u) => u.slice(0, 3)), clock: { ...node.sources }, value: node.get() }
}
async function main () {
  if (kind.startsWith('db-')) {
    const lib = await import(process.env.LIB)
    const Ctor = { 'db-model': lib.Model, 'db-events': lib.Events, 'db-value': lib.Value }[kind]
    node = new Ctor({ db: process.env.DIR, ...(id ? { id } : {}), ...(process.env.NOW ? { now: () => Number(process.env.NOW) } : {}) })
    await node.open()
    node.on('rejected', (err) => send({ ev: 'rejected', err: String(err && err.code) }))
  } else {
    const Ctor = require(process.env.SB_ROOT + { 'original-model': '/scuttlebutt/model.js', 'original-events': '/scuttlebutt/events.js', rvalue: '/r-value' }[kind])
    node = new Ctor(id)
  }
  process.on('message', async (m) => {
    try {
      let reply
      if (m.op === 'listen') {
        const { halfOpen, ...opts } = m.opts || {}
        const server = net.createServer({ allowHalfOpen: halfOpen === true }, (socket) => attach(socket, opts, nextConn++))
        server.listen(0, '127.0.0.1')
        await new Promise((r) => server.once('listening', r))
        reply = { port: server.address().port }
      } else if (m.op === 'dial') {
        const conn = nextConn++
        const { halfOpen, ...opts } = m.opts || {}
        const socket = net.connect({ port: m.port, host: '127.0.0.1', allowHalfOpen: halfOpen === true })
        attach(socket, opts, conn)
        await new Promise((r, j) => { socket.once('connect', r); socket.once('error', j) })
        reply = { conn }
      } else if (m.op === 'drop') {
        for (const s of sockets.values()) s.destroy()
        reply = {}
      } else if (m.op === 'set') {
        if (kind === 'db-model') await node.set(m.k, m.v)
        else if (kind === 'db-value' || kind === 'rvalue') await node.set(m.v)
        else if (kind === 'db-events') await node.record(m.k, m.v)
        else if (kind === 'original-events') node.emit(m.k, m.v)
        else node.set(m.k, m.v)
        reply = {}
      } else if (m.op === 'state') {
        reply = await state()
      } else if (m.op === 'close') {
        for (const s of sockets.values()) s.destroy()
        if (kind.startsWith('db-')) await node.close()
        reply = {}
      }
      send({ re: m.seq, ok: reply })
    } catch (err) {
      send({ re: m.seq, err: String(err && err.stack || err) })
    }
  })
  send({ ready: true, id: node.id })
}
main().catch((err) => { console.error(err); process.exit(3) })
`

let childFile: string | undefined
function childScript (): string {
  if (childFile === undefined) {
    const dir = mkdtempSync(join(tmpdir(), 'scuttledb-original-peer-'))
    childFile = join(dir, 'child.cjs')
    writeFileSync(childFile, CHILD)
    process.once('exit', () => { rmSync(dir, { recursive: true, force: true }) })
  }
  return childFile
}

export type Kind = 'original-model' | 'original-events' | 'rvalue' | 'db-model' | 'db-events' | 'db-value'

export interface Peer {
  kind: Kind
  id: string
  child: ChildProcess
  /** Everything the child reported: stream errors, socket errors, rejections, syncs, closes. */
  events: Array<{ ev: string, conn?: number, err?: string }>
  /** Exit code and stderr once the child exited (a crash shows here). */
  exit: { code: number | null, signal: string | null, stderr: string } | undefined
  call: (op: string, args?: Record<string, unknown>) => Promise<any>
  errors: () => string[]
  syncs: () => number
  kill: () => Promise<void>
}

/** Start a peer in a child process; `dir` persists a scuttledb node across restarts. */
export async function spawnPeer (t: Test, kind: Kind, options: { id?: string, dir?: string, now?: number } = {}): Promise<Peer> {
  const made = options.dir === undefined && kind.startsWith('db-')
  const dir = options.dir ?? (made ? mkdtempSync(join(tmpdir(), 'scuttledb-original-peer-db-')) : '')
  const child = fork(childScript(), [], {
    env: {
      ...process.env,
      KIND: kind,
      ID: options.id ?? '',
      DIR: dir,
      LIB: libUrl,
      NOW: options.now === undefined ? '' : String(options.now),
      SB_ROOT: join(here, '..', '..', 'node_modules')
    },
    stdio: ['ignore', 'pipe', 'pipe', 'ipc']
  })
  let stderr = ''
  child.stderr?.on('data', (b: Buffer) => { stderr += b.toString() })
  child.stdout?.resume()
  let seq = 0
  const pending = new Map<number, { resolve: (v: unknown) => void, reject: (e: Error) => void }>()
  const peer: Peer = {
    kind,
    id: '',
    child,
    events: [],
    exit: undefined,
    call: async (op, args = {}) => await new Promise((resolve, reject) => {
      if (peer.exit !== undefined) { reject(new Error(`${kind} exited: ${JSON.stringify(peer.exit)}`)); return }
      const s = seq++
      pending.set(s, { resolve, reject })
      child.send({ op, seq: s, ...args })
    }),
    errors: () => peer.events.filter((e) => e.ev === 'streamError' || e.ev === 'socketError' || e.ev === 'rejected').map((e) => `${e.ev}:${String(e.err)}`),
    syncs: () => peer.events.filter((e) => e.ev === 'sync').length,
    kill: async () => {
      if (peer.exit !== undefined) return
      child.kill('SIGKILL')
      await once(child, 'exit')
    }
  }
  child.on('message', (m: any) => {
    if (m.re !== undefined) {
      const p = pending.get(m.re)
      pending.delete(m.re)
      if (m.err !== undefined) p?.reject(new Error(m.err))
      else p?.resolve(m.ok)
    } else if (m.ev !== undefined) peer.events.push(m)
  })
  child.on('exit', (code, signal) => {
    peer.exit = { code, signal, stderr }
    for (const p of pending.values()) p.reject(new Error(`${kind} exited: code ${String(code)} ${stderr}`))
    pending.clear()
  })
  t.teardown(async () => {
    await peer.kill()
    if (made) rmSync(dir, { recursive: true, force: true })
  })
  const [ready] = await once(child, 'message') as [{ ready: boolean, id: string }]
  peer.id = ready.id
  return peer
}

/** Serve `server` and have `client` dial it; resolves with the client's connection number. */
export async function join2 (server: Peer, client: Peer, serverOpts: Record<string, unknown> = {}, clientOpts: Record<string, unknown> = {}): Promise<number> {
  const { port } = await server.call('listen', { opts: serverOpts })
  const { conn } = await client.call('dial', { port, opts: clientOpts })
  return conn as number
}

export async function listenOn (server: Peer, opts: Record<string, unknown> = {}): Promise<number> {
  const { port } = await server.call('listen', { opts })
  return port as number
}
