import { createHash, timingSafeEqual } from 'node:crypto'
import { readFile, stat } from 'node:fs/promises'
import type http from 'node:http'
import { netCodes, netError } from '../net/errors.js'
import { securityCodes, securityError } from '../security/errors.js'
import { HttpError, httpCodes } from './http-errors.js'

/** What a bearer token may do. */
export type TokenScope = 'read' | 'read-write'

/** The tokens of `--http-token-file`, held as SHA-256 digests. */
export interface HttpTokens {
  digests: Array<{ digest: Buffer, scope: TokenScope }>
}

/** Shortest token accepted: a guessable token is no lock. */
const MIN_TOKEN_LENGTH = 16

function digest (token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest()
}

/**
 * Parse a token file: one `SCOPE TOKEN` a line (`read` or `read-write`); blank
 * lines and `#` comments are skipped. A malformed line is SCUTTLEDB_USAGE.
 */
export function parseTokens (text: string, file = 'the token file'): HttpTokens {
  const digests: HttpTokens['digests'] = []
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim()
    if (line === '' || line.startsWith('#')) return
    const match = /^(read|read-write)\s+(\S+)$/.exec(line)
    if (match === null) throw netError(netCodes.USAGE, `${file}:${i + 1}: expected "read TOKEN" or "read-write TOKEN"`)
    if (match[2].length < MIN_TOKEN_LENGTH) throw netError(netCodes.USAGE, `${file}:${i + 1}: a token must be at least ${MIN_TOKEN_LENGTH} characters`)
    digests.push({ digest: digest(match[2]), scope: match[1] as TokenScope })
  })
  if (digests.length === 0) throw netError(netCodes.USAGE, `${file} holds no token`)
  return { digests }
}

/** Read `--http-token-file`; like a private key, it must not be readable by group or others. */
export async function loadTokens (file: string): Promise<HttpTokens> {
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch (err) {
    throw netError(netCodes.USAGE, `Cannot read --http-token-file ${file}: ${(err as Error).message}`, err)
  }
  const { mode } = await stat(file)
  if ((mode & 0o077) !== 0) {
    throw securityError(securityCodes.KEY_PERMISSIONS, `${file} is accessible by others (mode ${(mode & 0o777).toString(8)}); chmod 600 it`)
  }
  return parseTokens(text, file)
}

/** The scope of the request's bearer token, or undefined when it has none that is valid. */
function scopeOf (req: http.IncomingMessage, tokens: HttpTokens, queryToken: string | undefined): TokenScope | undefined {
  const match = /^Bearer +(\S+) *$/i.exec(req.headers.authorization ?? '')
  // A browser's EventSource cannot set headers: the token may come as ?access_token= (RFC 6750 2.3).
  const token = match?.[1] ?? queryToken
  if (token === undefined) return undefined
  // Equal-length digests compared in constant time: neither a token's bytes nor its length leak.
  const given = digest(token)
  let scope: TokenScope | undefined
  for (const t of tokens.digests) if (timingSafeEqual(t.digest, given) && scope !== 'read-write') scope = t.scope
  return scope
}

/** Throw 401 or 403 unless the request's token allows it (`write`: it changes data). */
export function authorize (req: http.IncomingMessage, tokens: HttpTokens | undefined, write: boolean, queryToken?: string): void {
  if (tokens === undefined) return
  const scope = scopeOf(req, tokens, queryToken)
  if (scope === undefined) {
    throw new HttpError(401, httpCodes.UNAUTHORIZED, 'This node needs a bearer token (Authorization: Bearer TOKEN)', { 'www-authenticate': 'Bearer realm="scuttledb"' })
  }
  if (write && scope !== 'read-write') throw new HttpError(403, httpCodes.FORBIDDEN, 'This token may only read')
}

/** CORS headers for a request from an allowed origin (none for others). */
export function corsHeaders (req: http.IncomingMessage, origins: string[]): Record<string, string> {
  const origin = req.headers.origin
  if (origins.length === 0) return {}
  // Answers differ by Origin: caches must keep them apart.
  if (origin === undefined || !(origins.includes(origin) || origins.includes('*'))) return { vary: 'Origin' }
  return {
    'access-control-allow-origin': origin,
    vary: 'Origin',
    'access-control-expose-headers': 'Content-Type, Content-Length'
  }
}

/** The extra headers of a CORS preflight answer from an allowed origin. */
export function preflightHeaders (allow: string): Record<string, string> {
  return {
    'access-control-allow-methods': allow,
    'access-control-allow-headers': 'Authorization, Content-Type, Last-Event-ID',
    'access-control-max-age': '600'
  }
}
