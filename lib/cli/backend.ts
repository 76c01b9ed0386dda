import { readFile, stat } from 'node:fs/promises'
import http from 'node:http'
import { join } from 'node:path'
import type { Writable } from 'node:stream'
import { securityCodes, securityError } from '../security/errors.js'
import type { Model } from '../model.js'
import { netCodes, netError, NetError } from '../net/errors.js'
import type { KeyPair } from '../security/keys.js'
import { usageError } from './args.js'
import { RESTORE_UNSYNCED, restorePending } from './backup-format.js'
import { openModel } from './node.js'
import { ScuttledbError } from '../errors.js'
import { isKeyId } from './security.js'
import { holdsBinary, type Json } from '../value-domain.js'
import { unrepresentable, viewOf, type ValueView } from './json-view.js'

/** One key and its value, as listed and dumped (a value holding binary as null, flagged). */
export type Entry = ValueView

/** A page of `ls`. */
export interface Page {
  items: Entry[]
  /** Pass as `after` for the next page; null at the end. */
  next: string | null
}

/** A change, as watched. */
export interface Change {
  key: string
  value: unknown
  ts: number
  source: string
}

/** What client commands need, from a running node (HTTP) or a database directory. */
export interface Backend {
  get: (key: string) => Promise<unknown>
  set: (key: string, value: unknown) => Promise<void>
  /** Write every entry atomically: all or none. */
  setAll: (entries: Map<string, unknown>) => Promise<void>
  list: (after: string | null, limit: number) => Promise<Page>
  /** Follow live changes; `onRetry` hears of each reconnection after a drop. */
  watch: (onChange: (change: Change) => void, onReady: () => void, signal: AbortSignal, onRetry?: (err: Error, ms: number) => void) => Promise<void>
  status: () => Promise<unknown>
  close: () => Promise<void>
}

/**
 * The bearer token of client commands: `--token-file FILE` (one token; like
 * the server's token file it must not be readable by group or others), else
 * the environment's SCUTTLEDB_TOKEN, else none.
 */
export async function readToken (file: string | undefined, env: NodeJS.ProcessEnv = process.env): Promise<string | undefined> {
  if (file === undefined) {
    const token = env.SCUTTLEDB_TOKEN?.trim()
    return token === undefined || token === '' ? undefined : token
  }
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch (err) {
    throw usageError(`Cannot read --token-file ${file}: ${(err as Error).message}`)
  }
  const { mode } = await stat(file)
  if ((mode & 0o077) !== 0) {
    throw securityError(securityCodes.KEY_PERMISSIONS, `${file} is accessible by others (mode ${(mode & 0o777).toString(8)}); chmod 600 it`)
  }
  // The token alone, or a line of the server's format ("read TOKEN"): comments and blank lines skipped.
  const lines = text.split(/\r?\n/).map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'))
  if (lines.length !== 1) throw usageError(`--token-file ${file} must hold one token (it has ${lines.length} lines)`)
  const token = /^(?:(?:read|read-write)\s+)?(\S+)$/.exec(lines[0])?.[1]
  if (token === undefined) throw usageError(`--token-file ${file}: expected one token`)
  return token
}

/** Delay before the `attempt`th reconnection of `watch` (ms): doubling from 100 to 5000. */
export function watchBackoff (attempt: number): number {
  return Math.min(5000, 100 * 2 ** attempt)
}

/** A response's JSON error, as a coded error. */
function responseError (status: number, body: unknown, url: string): Error {
  const error = (body as { error?: { code?: unknown, message?: unknown } } | null)?.error
  if (status === 404 && error?.code === netCodes.NOT_FOUND) return netError(netCodes.NOT_FOUND, String(error.message))
  const err = new Error(`${url}: HTTP ${status}${typeof error?.message === 'string' ? `: ${error.message}` : ''}`)
  if (typeof error?.code === 'string') (err as NodeJS.ErrnoException).code = error.code
  return err
}

/** Read a failed response's JSON body and reject with its coded error. */
function rejectWithBody (res: http.IncomingMessage, url: URL, reject: (err: Error) => void): void {
  const chunks: Buffer[] = []
  res.on('data', (c: Buffer) => chunks.push(c))
  res.on('end', () => {
    let body: unknown = null
    try { body = JSON.parse(Buffer.concat(chunks).toString('utf8')) } catch {}
    reject(responseError(res.statusCode ?? 0, body, url.href))
  })
}

/** How long `export` waits for a node that sends nothing before giving up (`--idle-timeout`). */
export const EXPORT_IDLE_MS = 60_000

/** Talks to `scuttledb serve`'s HTTP API. */
export class HttpBackend implements Backend {
  readonly #base: URL
  readonly #agent = new http.Agent({ keepAlive: true, maxSockets: 16 })
  readonly #auth: Record<string, string>

  constructor (base: URL, token?: string) {
    this.#base = base
    this.#auth = token === undefined ? {} : { authorization: `Bearer ${token}` }
  }

  async #request (method: string, path: string, body?: unknown): Promise<{ status: number, body: unknown }> {
    const url = new URL(path, this.#base)
    const payload = body === undefined ? undefined : JSON.stringify(body)
    return await new Promise((resolve, reject) => {
      // `path` as given: a URL would drop its dot segments (the keys "." and "..").
      const req = http.request(url, { path, method, agent: this.#agent, headers: { ...this.#auth, ...(payload === undefined ? {} : { 'content-type': 'application/json' }) } }, (res) => {
        const chunks: Buffer[] = []
        res.on('data', (chunk: Buffer) => chunks.push(chunk))
        res.on('error', reject)
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8')
          try {
            resolve({ status: res.statusCode ?? 0, body: text.length === 0 ? null : JSON.parse(text) })
          } catch (err) {
            reject(new Error(`${url.href} did not answer JSON: is this a scuttledb node?`, { cause: err }))
          }
        })
      })
      req.on('error', (err) => { reject(this.#unreachable(err)) })
      req.end(payload)
    })
  }

  #unreachable (err: NodeJS.ErrnoException): Error {
    if (err.code === 'ECONNREFUSED' || err.code === 'ENOTFOUND' || err.code === 'EHOSTUNREACH' || err.code === 'ECONNRESET') {
      return netError(netCodes.NODE_UNREACHABLE, `Cannot reach a node at ${this.#base.origin} (${err.code}): is "scuttledb serve" running? (or use --db DIR)`, err)
    }
    return err
  }

  async #ok (method: string, path: string, body?: unknown): Promise<unknown> {
    const res = await this.#request(method, path, body)
    if (res.status !== 200) throw responseError(res.status, res.body, new URL(path, this.#base).href)
    return res.body
  }

  async get (key: string): Promise<unknown> {
    try {
      return await this.#ok('GET', `/kv/${encodeURIComponent(key)}`)
    } catch (err) {
      if (err instanceof NetError && err.code === netCodes.NOT_FOUND) return undefined
      throw err
    }
  }

  async set (key: string, value: unknown): Promise<void> {
    if (value === null) await this.#ok('DELETE', `/kv/${encodeURIComponent(key)}`)
    else await this.#ok('PUT', `/kv/${encodeURIComponent(key)}`, value)
  }

  async setAll (entries: Map<string, unknown>): Promise<void> {
    // One POST /batch: the node commits every key in one atomic batch, or none.
    await this.#ok('POST', '/batch', [...entries].map(([key, value]) => value === null ? { type: 'del', key } : { type: 'put', key, value }))
  }

  async list (after: string | null, limit: number): Promise<Page> {
    const query = new URLSearchParams({ limit: String(limit) })
    if (after !== null) query.set('after', after)
    return await this.#ok('GET', `/kv?${query.toString()}`) as Page
  }

  async status (): Promise<unknown> {
    return await this.#ok('GET', '/status')
  }

  /**
   * Follow `GET /events` until `signal`; a dropped connection (or a node
   * restarting) is resumed with `Last-Event-ID`, the id of the last change
   * seen, after a backoff, so no change is missed or repeated. A refusal (an
   * HTTP error, e.g. 401) ends it; so does an unreachable node before any
   * connection succeeded (a wrong --node is an error, not a wait).
   */
  async watch (onChange: (change: Change) => void, onReady: () => void, signal: AbortSignal, onRetry: (err: Error, ms: number) => void = () => {}): Promise<void> {
    let last: string | undefined
    let connected = false
    for (let attempt = 0; !signal.aborted;) {
      try {
        await this.#follow(last, (change, id) => { last = id ?? last; attempt = 0; onChange(change) }, (id) => {
          last ??= id
          attempt = 0
          if (!connected) onReady()
          connected = true
        }, signal)
      } catch (err) {
        const dropped = err instanceof NetError && err.code === netCodes.NODE_UNREACHABLE
        if (signal.aborted) return
        if (!dropped || !connected) throw err
        const ms = watchBackoff(attempt++)
        onRetry(err, ms)
        await new Promise<void>((resolve) => {
          const timer = setTimeout(done, ms)
          function done (): void { clearTimeout(timer); signal.removeEventListener('abort', done); resolve() }
          signal.addEventListener('abort', done)
        })
      }
    }
  }

  /** One connection to `GET /events`; rejects NODE_UNREACHABLE when it drops. */
  async #follow (last: string | undefined, onChange: (change: Change, id: string | undefined) => void, onReady: (id: string | undefined) => void, signal: AbortSignal): Promise<void> {
    const url = new URL('/events', this.#base)
    const headers = { ...this.#auth, ...(last === undefined ? {} : { 'last-event-id': last }) }
    await new Promise<void>((resolve, reject) => {
      const req = http.get(url, { signal, headers }, (res) => {
        if (res.statusCode !== 200) {
          rejectWithBody(res, url, reject)
          return
        }
        let buffer = ''
        res.setEncoding('utf8')
        res.on('data', (text: string) => {
          buffer += text
          // SSE: messages end with a blank line; the node sends `id:` and `data:` lines and comments.
          for (let end = buffer.indexOf('\n\n'); end !== -1; end = buffer.indexOf('\n\n')) {
            const lines = buffer.slice(0, end).split('\n')
            buffer = buffer.slice(end + 2)
            const id = lines.find((l) => l.startsWith('id: '))?.slice(4)
            if (lines[0] === ': connected') onReady(id)
            const data = lines.filter((l) => l.startsWith('data: ')).map((l) => l.slice(6)).join('\n')
            if (data.length > 0) onChange(JSON.parse(data) as Change, id)
          }
        })
        res.on('end', () => { reject(netError(netCodes.NODE_UNREACHABLE, `The node at ${this.#base.origin} closed the event stream`)) })
        res.on('error', (err) => { signal.aborted ? resolve() : reject(this.#unreachable(err)) })
        res.on('aborted', () => { if (!signal.aborted) reject(netError(netCodes.NODE_UNREACHABLE, `The node at ${this.#base.origin} dropped the event stream`)) })
      })
      req.on('error', (err) => { signal.aborted ? resolve() : reject(this.#unreachable(err)) })
    })
  }

  /**
   * Stream `GET /export` (a backup, see backup-format.ts) into `out`; the caller checks it is whole.
   * A node that sends nothing for `idleMs` (stalled, or a connection lost without a word) is given up
   * on with SCUTTLEDB_NODE_UNREACHABLE: an export in a cron job must end.
   */
  async export (out: Writable, idleMs = EXPORT_IDLE_MS): Promise<void> {
    const url = new URL('/export', this.#base)
    await new Promise<void>((resolve, reject) => {
      const req = http.get(url, { headers: this.#auth }, (res) => {
        if (res.statusCode !== 200) {
          rejectWithBody(res, url, reject)
          return
        }
        res.on('data', (chunk: Buffer) => { if (!out.write(chunk)) { res.pause(); out.once('drain', () => res.resume()) } })
        res.on('end', resolve)
        res.on('error', reject)
        res.on('aborted', () => { reject(netError(netCodes.NODE_UNREACHABLE, `The node at ${this.#base.origin} dropped the export`)) })
      })
      req.on('error', (err) => { reject(this.#unreachable(err)) })
      req.setTimeout(idleMs, () => {
        const err = netError(netCodes.NODE_UNREACHABLE, `The node at ${this.#base.origin} sent nothing for ${idleMs} ms: the export was abandoned`)
        reject(err)
        req.destroy(err)
      })
    })
  }

  async close (): Promise<void> {
    this.#agent.destroy()
  }
}

/**
 * Resolve if `dir` holds a LevelDB database (its CURRENT file), else reject
 * SCUTTLEDB_NOT_FOUND. Read-only commands check this first: opening any other
 * directory would write CURRENT, LOCK, LOG and a MANIFEST into it (and mint an id).
 */
export async function assertDatabase (dir: string): Promise<void> {
  const kind = await stat(dir).then((s) => s.isDirectory() ? 'dir' : 'file', () => 'none')
  const current = kind === 'dir' && await stat(join(dir, 'CURRENT')).then((s) => s.isFile(), () => false)
  if (current) return
  const what = kind === 'none' ? 'No such directory' : kind === 'file' ? 'Not a directory' : 'No database (no LevelDB CURRENT file)'
  throw netError(netCodes.NOT_FOUND, `${what} at ${dir}: give the directory of a database (or --node URL for a running node)`)
}

/**
 * Resolve if `dir` is a directory or does not exist (a database may be made
 * there), else reject SCUTTLEDB_USAGE naming it: the store would say only
 * "Database failed to open" (LEVEL_DATABASE_NOT_OPEN) for a file.
 */
export async function assertDirectoryPath (dir: string): Promise<void> {
  const file = await stat(dir).then((s) => !s.isDirectory(), () => false)
  if (file) throw usageError(`--db ${dir} is a file, not a directory: give a database directory (a missing one is created)`)
}

/** Opens the database directory itself (fails with SCUTTLEDB_DATABASE_LOCKED while a node runs on it). */
export class DbBackend implements Backend {
  readonly #model: Model
  readonly #signed: boolean
  readonly #restoring: boolean

  private constructor (model: Model, signed: boolean, restoring: boolean) {
    this.#model = model
    this.#signed = signed
    this.#restoring = restoring
  }

  /**
   * Open the Model at `dir`; with `keys`, writes are signed (the database must
   * belong to the key's id). Unless `create`, a directory that holds no
   * database is SCUTTLEDB_NOT_FOUND: reading a mistyped path must not make a database there.
   */
  static async open (dir: string, keys?: KeyPair, create = true): Promise<DbBackend> {
    if (!create) await assertDatabase(dir)
    else await assertDirectoryPath(dir)
    const model = await openModel(dir, { keys })
    return new DbBackend(model, keys !== undefined, await restorePending(model).catch(async (err: unknown) => { await model.close(); throw err }))
  }

  async get (key: string): Promise<unknown> {
    const value = await this.#model.get(key)
    // As GET /kv/:key answers: JSON has no binary.
    if (holdsBinary(value)) throw unrepresentable(key)
    return value
  }

  async set (key: string, value: unknown): Promise<void> {
    this.#assertWritable()
    await this.#model.set(key, value as Json)
  }

  async setAll (entries: Map<string, unknown>): Promise<void> {
    this.#assertWritable()
    await this.#model.batch([...entries].map(([key, value]) => ({ type: 'put' as const, key, value: value as Json })))
  }

  #assertWritable (): void {
    if (this.#restoring) {
      throw new ScuttledbError(`This database was restored from a backup and has not synced with a peer yet: start it with "scuttledb serve --peer ..." first (or --accept-restore)`, RESTORE_UNSYNCED)
    }
    if (!this.#signed && isKeyId(this.#model.id)) {
      // An unsigned write under a key's id would be refused by every verifying peer.
      throw usageError(`This database belongs to a node that signs (id ${this.#model.id}): pass --key with its key file to write`)
    }
  }

  async list (after: string | null, limit: number): Promise<Page> {
    const items: Entry[] = []
    // One extra entry tells whether there is a next page.
    for await (const [key, value] of this.#model.entries({ ...(after === null ? {} : { gt: after }), limit: limit + 1 })) {
      if (items.length === limit) return { items, next: items[items.length - 1].key }
      items.push(viewOf(key, value))
    }
    return { items, next: null }
  }

  async watch (): Promise<void> {
    throw netError(netCodes.USAGE, 'watch needs a running node (--node URL): a database directory has no live changes')
  }

  async status (): Promise<unknown> {
    const model = this.#model
    return { id: model.id, clock: model.clock, db: 'opened directly (no node running)' }
  }

  async close (): Promise<void> {
    await this.#model.close()
  }
}
