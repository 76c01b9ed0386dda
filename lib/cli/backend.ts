import { stat } from 'node:fs/promises'
import http from 'node:http'
import type { Model } from '../model.js'
import { netCodes, netError, NetError } from '../net/errors.js'
import type { KeyPair } from '../security/keys.js'
import { usageError } from './args.js'
import { openModel } from './node.js'
import { isKeyId } from './security.js'
import type { Json } from '../value-domain.js'

/** One key and its value, as listed and dumped. */
export interface Entry {
  key: string
  value: unknown
}

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
  /** Write every entry atomically, when the backend can (all or none). */
  setAll?: (entries: Map<string, unknown>) => Promise<void>
  list: (after: string | null, limit: number) => Promise<Page>
  watch: (onChange: (change: Change) => void, onReady: () => void, signal: AbortSignal) => Promise<void>
  status: () => Promise<unknown>
  /** How many writes to keep in flight when loading. */
  readonly parallel: number
  close: () => Promise<void>
}

/** A response's JSON error, as a coded error. */
function responseError (status: number, body: unknown, url: string): Error {
  const error = (body as { error?: { code?: unknown, message?: unknown } } | null)?.error
  if (status === 404 && error?.code === netCodes.NOT_FOUND) return netError(netCodes.NOT_FOUND, String(error.message))
  const err = new Error(`${url}: HTTP ${status}${typeof error?.message === 'string' ? `: ${error.message}` : ''}`)
  if (typeof error?.code === 'string') (err as NodeJS.ErrnoException).code = error.code
  return err
}

/** Talks to `scuttledb serve`'s HTTP API. */
export class HttpBackend implements Backend {
  readonly parallel = 16
  readonly #base: URL
  readonly #agent = new http.Agent({ keepAlive: true, maxSockets: 16 })

  constructor (base: URL) {
    this.#base = base
  }

  async #request (method: string, path: string, body?: unknown): Promise<{ status: number, body: unknown }> {
    const url = new URL(path, this.#base)
    const payload = body === undefined ? undefined : JSON.stringify(body)
    return await new Promise((resolve, reject) => {
      const req = http.request(url, { method, agent: this.#agent, headers: payload === undefined ? {} : { 'content-type': 'application/json' } }, (res) => {
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

  async list (after: string | null, limit: number): Promise<Page> {
    const query = new URLSearchParams({ limit: String(limit) })
    if (after !== null) query.set('after', after)
    return await this.#ok('GET', `/kv?${query.toString()}`) as Page
  }

  async status (): Promise<unknown> {
    return await this.#ok('GET', '/status')
  }

  async watch (onChange: (change: Change) => void, onReady: () => void, signal: AbortSignal): Promise<void> {
    const url = new URL('/events', this.#base)
    await new Promise<void>((resolve, reject) => {
      const req = http.get(url, { signal }, (res) => {
        if (res.statusCode !== 200) {
          res.resume()
          reject(new Error(`${url.href}: HTTP ${res.statusCode ?? '?'}`))
          return
        }
        let buffer = ''
        res.setEncoding('utf8')
        res.on('data', (text: string) => {
          buffer += text
          // SSE: messages end with a blank line; we only send `data:` lines and comments.
          for (let end = buffer.indexOf('\n\n'); end !== -1; end = buffer.indexOf('\n\n')) {
            const message = buffer.slice(0, end)
            buffer = buffer.slice(end + 2)
            if (message.startsWith(': connected')) onReady()
            const data = message.split('\n').filter((l) => l.startsWith('data: ')).map((l) => l.slice(6)).join('\n')
            if (data.length > 0) onChange(JSON.parse(data) as Change)
          }
        })
        res.on('end', () => { reject(netError(netCodes.NODE_UNREACHABLE, `The node at ${this.#base.origin} closed the event stream`)) })
        res.on('error', (err) => { signal.aborted ? resolve() : reject(err) })
      })
      req.on('error', (err) => { signal.aborted ? resolve() : reject(this.#unreachable(err)) })
    })
  }

  async close (): Promise<void> {
    this.#agent.destroy()
  }
}

/** Opens the database directory itself (fails with SCUTTLEDB_DATABASE_LOCKED while a node runs on it). */
export class DbBackend implements Backend {
  readonly parallel = 256
  readonly #model: Model
  readonly #signed: boolean

  private constructor (model: Model, signed: boolean) {
    this.#model = model
    this.#signed = signed
  }

  /**
   * Open the Model at `dir`; with `keys`, writes are signed (the database must
   * belong to the key's id). Unless `create`, a missing directory is
   * SCUTTLEDB_NOT_FOUND: reading a mistyped path must not make a database there.
   */
  static async open (dir: string, keys?: KeyPair, create = true): Promise<DbBackend> {
    if (!create && !(await stat(dir).then((s) => s.isDirectory(), () => false))) {
      throw netError(netCodes.NOT_FOUND, `No database at ${dir}: give the directory of a database (or --node URL for a running node)`)
    }
    return new DbBackend(await openModel(dir, { keys }), keys !== undefined)
  }

  async get (key: string): Promise<unknown> {
    return await this.#model.get(key)
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
      items.push({ key, value })
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
