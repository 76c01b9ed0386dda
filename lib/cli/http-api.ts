import http from 'node:http'
import type { Model } from '../model.js'
import type { Source } from '../protocol.js'
import { codeOf, netCodes } from '../net/errors.js'
import { httpTimeouts } from '../net/keepalive.js'

/** Options of the HTTP API. */
export interface HttpApiOptions {
  /** What `GET /status` answers. */
  status: () => unknown
  /** Where problems are reported (one line each). */
  log: (line: string) => void
  /** Ms a client has to send its request headers (slow-loris guard). Default 10000. */
  headersTimeout?: number
  /** Largest request body, bytes. Default 1 MiB. */
  maxBody?: number
}

/** Largest page of `GET /kv`. */
const MAX_LIMIT = 1000
/** An SSE client this far behind is dropped rather than buffered without bound. */
const MAX_SSE_BACKLOG = 4 * 1024 * 1024
/** Comment lines keep idle SSE connections open through proxies. */
const SSE_HEARTBEAT = 15_000

class HttpError extends Error {
  constructor (readonly status: number, readonly code: string, message: string) {
    super(message)
  }
}

function send (res: http.ServerResponse, status: number, body: unknown): void {
  if (res.headersSent) {
    res.destroy()
    return
  }
  const text = JSON.stringify(body) + '\n'
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) })
  res.end(text)
}

function fail (res: http.ServerResponse, err: unknown): void {
  if (err instanceof HttpError) {
    send(res, err.status, { error: { code: err.code, message: err.message } })
  } else {
    const code = codeOf(err)
    // The database closing under a request (shutdown) is not the client's fault.
    const status = code === 'SCUTTLEDB_NOT_OPEN' ? 503 : 500
    send(res, status, { error: { code, message: (err as Error).message } })
  }
}

async function readJson (req: http.IncomingMessage, max: number): Promise<unknown> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length
    if (size > max) throw new HttpError(413, netCodes.BAD_REQUEST, `The body is larger than ${max} bytes`)
    chunks.push(chunk)
  }
  const text = Buffer.concat(chunks).toString('utf8')
  try {
    return JSON.parse(text)
  } catch {
    throw new HttpError(400, netCodes.BAD_REQUEST, 'The body must be JSON')
  }
}

function keyOf (path: string): string {
  let key: string
  try {
    key = decodeURIComponent(path.slice('/kv/'.length))
  } catch {
    throw new HttpError(400, netCodes.BAD_REQUEST, 'The key is not valid percent-encoding')
  }
  if (key.length === 0) throw new HttpError(400, netCodes.BAD_REQUEST, 'The key must not be empty')
  return key
}

function method (req: http.IncomingMessage, allowed: string[]): string {
  const m = req.method ?? 'GET'
  if (!allowed.includes(m)) throw new HttpError(405, netCodes.BAD_REQUEST, `${m} is not allowed here; use ${allowed.join(', ')}`)
  return m
}

async function list (model: Model, url: URL): Promise<unknown> {
  const limitText = url.searchParams.get('limit') ?? '100'
  const limit = Number(limitText)
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIMIT) {
    throw new HttpError(400, netCodes.BAD_REQUEST, `limit must be an integer from 1 to ${MAX_LIMIT}`)
  }
  const after = url.searchParams.get('after')
  const items: Array<{ key: string, value: unknown }> = []
  let more = false
  // One extra entry tells whether there is a next page.
  for await (const [key, value] of model.entries({ ...(after === null ? {} : { gt: after }), limit: limit + 1 })) {
    if (items.length === limit) {
      more = true
      break
    }
    items.push({ key, value })
  }
  return { items, next: more ? items[items.length - 1].key : null }
}

/** Serve `GET /events`: one SSE message per committed update, until the client goes. */
function events (model: Model, req: http.IncomingMessage, res: http.ServerResponse, log: (line: string) => void, open: Set<http.ServerResponse>): void {
  res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive' })
  // The first comment tells the client its subscription is live.
  res.write(': connected\n\n')
  const onUpdate = (change: unknown, ts: number, source: Source): void => {
    const [key, value] = change as [string, unknown]
    let data: string
    try {
      data = JSON.stringify({ key, value, ts, source })
    } catch {
      data = JSON.stringify({ key, value: null, ts, source, unrepresentable: true })
    }
    if (res.writableLength > MAX_SSE_BACKLOG) {
      log(`events: dropping ${req.socket.remoteAddress ?? '?'}: it is not reading`)
      res.destroy()
      return
    }
    res.write(`data: ${data}\n\n`)
  }
  const beat = setInterval(() => { res.write(': keep-alive\n\n') }, SSE_HEARTBEAT)
  beat.unref()
  model.on('update', onUpdate)
  open.add(res)
  res.once('close', () => {
    clearInterval(beat)
    model.off('update', onUpdate)
    open.delete(res)
  })
}

/** An HTTP API server for a Model (not yet listening) and a way to end its event streams. */
export interface HttpApi {
  server: http.Server
  /** End every `GET /events` response (before a shutdown). */
  endEvents: () => void
}

/**
 * The HTTP API: `GET/PUT/DELETE /kv/:key`, `GET /kv?limit=&after=`,
 * `GET /events` (Server-Sent Events), `GET /status`. JSON in and out; errors are
 * `{ error: { code, message } }`.
 */
export function createHttpApi (model: Model, options: HttpApiOptions): HttpApi {
  const { status, log, headersTimeout = 10_000, maxBody = 1024 * 1024 } = options
  const open = new Set<http.ServerResponse>()
  const handle = async (req: http.IncomingMessage, res: http.ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://localhost')
    const path = url.pathname
    if (path === '/kv') {
      method(req, ['GET'])
      send(res, 200, await list(model, url))
    } else if (path.startsWith('/kv/')) {
      const key = keyOf(path)
      const m = method(req, ['GET', 'PUT', 'DELETE'])
      if (m === 'GET') {
        const value = await model.get(key)
        if (value === undefined) throw new HttpError(404, netCodes.NOT_FOUND, `No key ${JSON.stringify(key)}`)
        send(res, 200, value)
      } else {
        const value = m === 'PUT' ? await readJson(req, maxBody) : null
        const [, ts, source] = await model.localUpdate([key, value])
        send(res, 200, { key, ts, source })
      }
    } else if (path === '/events') {
      method(req, ['GET'])
      events(model, req, res, log, open)
    } else if (path === '/status') {
      method(req, ['GET'])
      send(res, 200, status())
    } else {
      throw new HttpError(404, netCodes.NOT_FOUND, `No route ${path}: see GET /kv, /kv/:key, /events, /status`)
    }
  }
  const server = http.createServer(httpTimeouts(headersTimeout), (req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (!(err instanceof HttpError)) log(`http: ${req.method ?? '?'} ${req.url ?? '?'}: ${codeOf(err)} ${(err as Error).message}`)
      fail(res, err)
    })
  })
  server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
    log(`http: dropped ${(socket as { remoteAddress?: string }).remoteAddress ?? '?'}: ${err.code ?? 'ERROR'} ${err.message}`)
    const status = err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? '408 Request Timeout' : '400 Bad Request'
    if (socket.writable && err.code !== 'ECONNRESET') socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\n\r\n`)
    else socket.destroy()
  })
  return {
    server,
    endEvents: () => { for (const res of open) res.end() }
  }
}
