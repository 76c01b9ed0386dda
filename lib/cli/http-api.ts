import http from 'node:http'
import { codes } from '../errors.js'
import type { Model } from '../model.js'
import { codeOf, netCodes } from '../net/errors.js'
import { httpTimeouts } from '../net/keepalive.js'
import { holdsBinary } from '../value-domain.js'
import { authorize, corsHeaders, preflightHeaders, type HttpTokens } from './http-auth.js'
import { changesPage, decodePosition, serveEvents } from './http-changes.js'
import { HttpError, badRequest, fail, httpCodes, onClientError, send } from './http-errors.js'
import { inexactInteger, inexactMessage } from './http-json.js'
import { listPage } from './http-list.js'
import { unrepresentable } from './json-view.js'

/** Options of the HTTP API. */
export interface HttpApiOptions {
  /** What `GET /status` answers. */
  status: () => unknown
  /** Writes `GET /export` (a backup, lib/cli/backup-format.ts); without it the route is 404. */
  backup?: (out: http.ServerResponse) => Promise<unknown>
  /** Throws (an HttpError) when local writes are not accepted now. */
  writable?: () => void
  /** What `GET /metrics` answers (Prometheus text); without it the route is 404. */
  metrics?: () => Promise<string>
  /** Where problems are reported (one line each). */
  log: (line: string) => void
  /** Ms a client has to send its request headers (slow-loris guard). Default 10000. */
  headersTimeout?: number
  /** Largest request body, bytes. Default 1 MiB. */
  maxBody?: number
  /** Bearer tokens every request but a CORS preflight must carry; undefined: open. */
  tokens?: HttpTokens
  /** Origins answered with CORS headers (`*`: any). Default none. */
  cors?: string[]
  /** Serves a GET for a path that is no route (`serve --static`); resolves false when it has nothing. */
  files?: (req: http.IncomingMessage, res: http.ServerResponse, path: string) => Promise<boolean>
  /** @internal Live updates an event stream holds while it resumes from storage (tests make it small). */
  resumeBuffer?: number
  /** @internal Ms between an event stream's keep-alive comments (15000); a replay waiting on a client that takes nothing for a whole one drops it. */
  heartbeat?: number
}

/** Largest page of `GET /changes`. */
const MAX_CHANGES = 1000

/** The methods of each route (HEAD wherever GET) and the query parameters it takes. */
function route (path: string): { methods: string[], params: string[] } | undefined {
  if (path === '/kv') return { methods: ['GET', 'HEAD'], params: ['prefix', 'gt', 'gte', 'lt', 'lte', 'limit', 'reverse', 'after'] }
  if (path.startsWith('/kv/')) return { methods: ['GET', 'HEAD', 'PUT', 'DELETE'], params: [] }
  if (path === '/batch') return { methods: ['POST'], params: [] }
  if (path === '/events') return { methods: ['GET', 'HEAD'], params: ['since'] }
  if (path === '/changes') return { methods: ['GET', 'HEAD'], params: ['since', 'limit'] }
  if (path === '/status' || path === '/metrics' || path === '/export') return { methods: ['GET', 'HEAD'], params: [] }
  return undefined
}

/** The query as a map, refusing unknown and repeated parameters (a typo must not silently widen a read). */
function query (url: URL, allowed: string[]): Map<string, string> {
  const out = new Map<string, string>()
  for (const [name, value] of url.searchParams) {
    if (!allowed.includes(name)) throw badRequest(`Unknown query parameter "${name}"${allowed.length > 0 ? `: this path takes ${allowed.join(', ')}` : ''}`)
    if (out.has(name)) throw badRequest(`The query parameter "${name}" is given twice`)
    out.set(name, value)
  }
  return out
}

/** An integer query parameter from 1 to `max`. */
export function intParam (q: Map<string, string>, name: string, fallback: number, max: number): number {
  const text = q.get(name)
  if (text === undefined) return fallback
  if (!/^\d+$/.test(text) || Number(text) < 1 || Number(text) > max) throw badRequest(`${name} must be an integer from 1 to ${max}`)
  return Number(text)
}

/** The most of a refused body read and dropped so that its client gets the answer (past it, the connection is cut). */
const MAX_DISCARD = 4 * 1024 * 1024

/**
 * Read and drop the rest of a refused body before it is answered: a client still
 * sending when the connection closes would lose the answer to a reset. One that
 * sends more than MAX_DISCARD (declared or not) is answered at once instead.
 */
async function discard (req: http.IncomingMessage, over: number): Promise<void> {
  if (req.readableEnded || over > MAX_DISCARD) return
  let dropped = over
  await new Promise<void>((resolve) => {
    const done = (): void => {
      for (const event of ['end', 'close', 'error']) req.off(event, done)
      req.off('data', onData)
      resolve()
    }
    const onData = (chunk: Buffer): void => {
      dropped += chunk.length
      if (dropped > MAX_DISCARD) done()
    }
    req.on('data', onData)
    req.once('end', done)
    req.once('close', done)
    req.once('error', done)
    req.resume()
  })
  // Whatever still comes is dropped as it arrives (the connection closes after the answer).
  req.resume()
}

async function readJson (req: http.IncomingMessage, max: number): Promise<unknown> {
  // Only JSON is stored as JSON: text/plain taken as JSON would store what the client did not mean.
  const type = (req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase()
  if (type !== 'application/json' && !/^application\/[a-z0-9.+-]+\+json$/.test(type)) {
    req.resume()
    throw new HttpError(415, httpCodes.UNSUPPORTED_MEDIA_TYPE, `The body must be application/json, not ${type === '' ? 'untyped' : type}`)
  }
  const declared = Number(req.headers['content-length'] ?? 0)
  if (declared > max) {
    await discard(req, declared - max)
    throw new HttpError(413, httpCodes.BODY_TOO_LARGE, `The body is larger than ${max} bytes`, { connection: 'close' })
  }
  const chunks: Buffer[] = []
  // Not `for await`: leaving that loop early destroys the request, and its client loses the answer.
  const size = await new Promise<number>((resolve, reject) => {
    let read = 0
    const onData = (chunk: Buffer): void => {
      read += chunk.length
      if (read > max) {
        req.off('data', onData)
        req.off('end', onEnd)
        resolve(read)
        return
      }
      chunks.push(chunk)
    }
    const onEnd = (): void => { resolve(read) }
    req.on('data', onData)
    req.once('end', onEnd)
    req.once('error', reject)
  })
  if (size > max) {
    await discard(req, size - max)
    throw new HttpError(413, httpCodes.BODY_TOO_LARGE, `The body is larger than ${max} bytes`, { connection: 'close' })
  }
  let text: string
  try {
    // JSON text is UTF-8: bytes that are not were decoded as U+FFFD and stored as a value the client never sent.
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(Buffer.concat(chunks))
  } catch {
    throw badRequest('The body is not valid UTF-8')
  }
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    throw badRequest('The body must be JSON')
  }
  // Not rounded silently: an integer JSON.parse could not keep exactly is refused.
  const inexact = inexactInteger(text)
  if (inexact !== undefined) throw new HttpError(400, codes.INVALID_VALUE, inexactMessage(inexact))
  return value
}

function keyOf (path: string): string {
  let key: string
  try {
    key = decodeURIComponent(path.slice('/kv/'.length))
  } catch {
    throw badRequest('The key is not valid percent-encoding')
  }
  if (key.length === 0) throw badRequest('The key must not be empty')
  return key
}

/** An HTTP API server for a Model (not yet listening) and a way to end its event streams. */
export interface HttpApi {
  server: http.Server
  /** End every `GET /events` response (before a shutdown). */
  endEvents: () => void
}

/** A request target as logged: an ?access_token= is a secret (the log may be read by more people than the token file). */
function redactToken (target: string): string {
  const at = target.indexOf('?')
  if (at === -1) return target
  // By the decoded name, as URLSearchParams reads it: ?access%5Ftoken= is a token too.
  const pairs = target.slice(at + 1).split('&').map((pair) => {
    const name = pair.split('=')[0]
    let decoded = name
    try {
      decoded = decodeURIComponent(name.replace(/\+/g, ' '))
    } catch {}
    return decoded === 'access_token' ? `${name}=REDACTED` : pair
  })
  return `${target.slice(0, at)}?${pairs.join('&')}`
}

/**
 * The HTTP API: `GET/HEAD/PUT/DELETE /kv/:key`, `GET /kv` (ranges, pages),
 * `POST /batch` (puts and deletes in one atomic commit),
 * `GET /events` (Server-Sent Events, resumable), `GET /changes`, `GET /status`,
 * `GET /metrics`. JSON in and out; every error is `{ error: { code, message } }`.
 */
export function createHttpApi (model: Model, options: HttpApiOptions): HttpApi {
  const { status, metrics, backup, writable, log, headersTimeout = 10_000, maxBody = 1024 * 1024, tokens, cors = [], resumeBuffer, heartbeat, files } = options
  const open = new Set<http.ServerResponse>()
  const handle = async (req: http.IncomingMessage, res: http.ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://localhost')
    // The path as sent: a URL's pathname drops dot segments (also %2E%2E), so /kv/.. would be "/" and the key ".." unreachable.
    const target = req.url ?? '/'
    const path = target.startsWith('/') ? target.split(/[?#]/)[0] : url.pathname
    const allowedCors = corsHeaders(req, cors)
    for (const [name, value] of Object.entries(allowedCors)) res.setHeader(name, value)
    const preflight = 'access-control-allow-origin' in allowedCors
    const r = (path === '/metrics' && metrics === undefined) || (path === '/export' && backup === undefined) ? undefined : route(path)
    if (r === undefined && files !== undefined && await files(req, res, path)) return
    if (r === undefined) throw new HttpError(404, netCodes.NOT_FOUND, `No route ${path}: see GET /kv, /kv/:key, POST /batch, /events, /changes, /status, /metrics, /export`)
    const allow = [...r.methods, 'OPTIONS'].join(', ')
    const m = req.method ?? 'GET'
    if (m === 'OPTIONS') {
      // A preflight carries no credentials: it is answered without a token.
      res.writeHead(204, { allow, ...(preflight ? preflightHeaders(allow) : {}) })
      res.end()
      return
    }
    if (!r.methods.includes(m)) throw new HttpError(405, httpCodes.METHOD_NOT_ALLOWED, `${m} is not allowed here; use ${allow}`, { allow })
    authorize(req, tokens, m === 'PUT' || m === 'DELETE' || m === 'POST', url.searchParams.get('access_token') ?? undefined)
    const q = query(url, [...r.params, 'access_token'])
    if (path === '/kv') {
      send(res, 200, await listPage(model, q))
    } else if (path.startsWith('/kv/')) {
      const key = keyOf(path)
      if (m === 'GET' || m === 'HEAD') {
        const value = await model.get(key)
        if (value === undefined) throw new HttpError(404, netCodes.NOT_FOUND, `No key ${JSON.stringify(key)}`)
        if (holdsBinary(value)) throw unrepresentable(key, true)
        send(res, 200, value)
      } else {
        writable?.()
        const value = m === 'PUT' ? await readJson(req, maxBody) : null
        const [, ts, source] = await model.localUpdate([key, value])
        send(res, 200, { key, ts, source })
      }
    } else if (path === '/batch') {
      writable?.()
      const operations = await readJson(req, maxBody)
      if (!Array.isArray(operations)) throw badRequest('POST /batch takes a JSON array of { type: "put", key, value } and { type: "del", key }')
      await model.batch(operations as Parameters<Model['batch']>[0])
      send(res, 200, { count: operations.length })
    } else if (path === '/events') {
      // A reconnecting EventSource sends the id it last saw; that is newer than the URL's since.
      const last = req.headers['last-event-id']
      const since = typeof last === 'string' && last !== '' ? last : q.get('since')
      serveEvents(model, req, res, since === undefined ? null : decodePosition(since, model), log, open, resumeBuffer, heartbeat)
    } else if (path === '/changes') {
      const since = decodePosition(q.get('since') ?? '', model)
      send(res, 200, await changesPage(model, since, intParam(q, 'limit', 100, MAX_CHANGES)))
    } else if (path === '/status') {
      send(res, 200, status())
    } else if (path === '/export' && backup !== undefined) {
      // A snapshot streamed as it is read: its trailer (count, checksum) tells the client it is whole.
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-disposition': 'attachment; filename="scuttledb.backup"' })
      if (m === 'HEAD') { res.end(); return }
      try {
        await backup(res)
        res.end()
      } catch (err) {
        // Too late for a JSON error: cut the response, so the client sees no trailer.
        log(`http: GET /export: ${codeOf(err)} ${(err as Error).message}`)
        res.destroy()
      }
    } else if (metrics !== undefined) {
      const text = await metrics()
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8', 'content-length': String(Buffer.byteLength(text)) })
      res.end(text)
    }
  }
  const server = http.createServer(httpTimeouts(headersTimeout), (req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (!(err instanceof HttpError)) log(`http: ${req.method ?? '?'} ${redactToken(req.url ?? '?')}: ${codeOf(err)} ${(err as Error).message}`)
      fail(res, err)
    })
  })
  server.on('clientError', onClientError(log))
  return {
    server,
    endEvents: () => { for (const res of open) res.end() }
  }
}
