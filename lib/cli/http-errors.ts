import type http from 'node:http'
import type { Duplex } from 'node:stream'
import { codeOf, netCodes } from '../net/errors.js'

/**
 * Stable codes of the HTTP API, besides the network layer's `SCUTTLEDB_NOT_FOUND`
 * and `SCUTTLEDB_BAD_REQUEST`; each has a heading in docs/cli.md.
 */
export const httpCodes = {
  /** The method is not one the path serves (405, with `Allow`). */
  METHOD_NOT_ALLOWED: 'SCUTTLEDB_METHOD_NOT_ALLOWED',
  /** A body that must be JSON came with another `content-type` (415). */
  UNSUPPORTED_MEDIA_TYPE: 'SCUTTLEDB_UNSUPPORTED_MEDIA_TYPE',
  /** The request body is larger than the limit (413). */
  BODY_TOO_LARGE: 'SCUTTLEDB_BODY_TOO_LARGE',
  /** The request line (the URL) is larger than the header limit (414). */
  URL_TOO_LONG: 'SCUTTLEDB_URL_TOO_LONG',
  /** The request headers are larger than the header limit (431). */
  HEADERS_TOO_LARGE: 'SCUTTLEDB_HEADERS_TOO_LARGE',
  /** The request (headers or body) did not arrive in time (408). */
  REQUEST_TIMEOUT: 'SCUTTLEDB_REQUEST_TIMEOUT',
  /** No valid bearer token where one is required (401). */
  UNAUTHORIZED: 'SCUTTLEDB_UNAUTHORIZED',
  /** The token is valid but its scope does not allow this request (403). */
  FORBIDDEN: 'SCUTTLEDB_FORBIDDEN',
  /** A changes-feed position (`since`, `Last-Event-ID`) that does not decode (400). */
  BAD_POSITION: 'SCUTTLEDB_BAD_POSITION'
} as const

/** An error the HTTP API answers with its status and code. */
export class HttpError extends Error {
  constructor (readonly status: number, readonly code: string, message: string, readonly headers: Record<string, string> = {}) {
    super(message)
    this.name = 'HttpError'
  }
}

/** Shorthand for a 400 SCUTTLEDB_BAD_REQUEST. */
export function badRequest (message: string): HttpError {
  return new HttpError(400, netCodes.BAD_REQUEST, message)
}

/** Answer JSON; headers already sent (an event stream) can only be cut. */
export function send (res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent) {
    res.destroy()
    return
  }
  const text = JSON.stringify(body) + '\n'
  res.writeHead(status, { ...headers, 'content-type': 'application/json; charset=utf-8', 'content-length': String(Buffer.byteLength(text)) })
  res.end(text)
}

/** Answer an error as `{ error: { code, message } }` with its status. */
export function fail (res: http.ServerResponse, err: unknown): void {
  if (err instanceof HttpError) {
    send(res, err.status, { error: { code: err.code, message: err.message } }, err.headers)
    return
  }
  const code = codeOf(err)
  // A caller's mistake the library refused (a lone surrogate in a key, a value too large) is the client's.
  // The database closing under a request (shutdown) is not the client's fault either.
  const status = err instanceof TypeError ? 400 : code === 'SCUTTLEDB_NOT_OPEN' ? 503 : 500
  send(res, status, { error: { code: status === 400 && code === 'ERROR' ? netCodes.BAD_REQUEST : code, message: (err as Error).message } })
}

/** Ms a client answered by onClientError has to take the answer and close its side before its socket is destroyed. */
const CLOSE_GRACE_MS = 2000

/** Node's default header limit (request line and headers together), as the server keeps it. */
const MAX_HEADER_BYTES = 16 * 1024

/** The status, code and message for an error Node's HTTP parser raised before a request existed. */
function parserError (err: NodeJS.ErrnoException & { rawPacket?: Buffer }): [number, string, string, string] {
  if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') return [408, 'Request Timeout', httpCodes.REQUEST_TIMEOUT, 'The request did not arrive in time']
  if (err.code === 'HPE_HEADER_OVERFLOW') {
    // The overflow is in the request line (the URL) when the packet's first line alone is over the
    // limit, or has no end yet; a request that arrives whole has line breaks after its URL.
    const raw = err.rawPacket
    const end = raw?.indexOf('\n') ?? -1
    if (raw !== undefined && (end === -1 || end > MAX_HEADER_BYTES)) return [414, 'URI Too Long', httpCodes.URL_TOO_LONG, 'The URL is longer than the header limit (16 KiB)']
    return [431, 'Request Header Fields Too Large', httpCodes.HEADERS_TOO_LARGE, 'The request headers are larger than the limit (16 KiB)']
  }
  return [400, 'Bad Request', netCodes.BAD_REQUEST, `The request is not valid HTTP/1.1 (${err.code ?? 'parse error'})`]
}

/**
 * Handle the server's 'clientError': answer a JSON error with a code on the raw
 * socket, then close it (Node's own answer is a bare status line).
 */
export function onClientError (log: (line: string) => void) {
  return (err: NodeJS.ErrnoException & { rawPacket?: Buffer }, socket: Duplex): void => {
    log(`http: dropped ${(socket as { remoteAddress?: string }).remoteAddress ?? '?'}: ${err.code ?? 'ERROR'} ${err.message}`)
    // A response already under way (a timeout mid-body after it began) cannot take a second status line.
    const started = (socket as { _httpMessage?: { headersSent?: boolean } })._httpMessage?.headersSent === true
    if (!socket.writable || started || err.code === 'ECONNRESET') {
      socket.destroy()
      return
    }
    const [status, reason, code, message] = parserError(err)
    const body = JSON.stringify({ error: { code, message } }) + '\n'
    socket.end(`HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`)
    // end() only half-closes: a client that reads nothing never ends its side, and its socket (a
    // file descriptor) stayed open for as long as the client did.
    const timer = setTimeout(() => { socket.destroy() }, CLOSE_GRACE_MS)
    timer.unref()
    socket.once('close', () => { clearTimeout(timer) })
  }
}
