import { createReadStream } from 'node:fs'
import { stat } from 'node:fs/promises'
import type http from 'node:http'
import { extname, join, resolve, sep } from 'node:path'

/** Content types of the files a web app is made of; anything else is served as bytes. */
const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.webmanifest': 'application/manifest+json',
  '.txt': 'text/plain; charset=utf-8'
}

/**
 * `serve --static DIR`: answer a GET or HEAD for a path that is no API route with
 * the file under DIR (`/` is index.html), so one node serves a web app and the
 * data it syncs. Resolves false when there is no such file (the API's 404 follows).
 * Never leaves DIR: `..` and encoded separators are refused as not found.
 */
export function staticFiles (dir: string): (req: http.IncomingMessage, res: http.ServerResponse, path: string) => Promise<boolean> {
  const root = resolve(dir)
  return async (req, res, path) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return false
    let decoded: string
    try {
      decoded = decodeURIComponent(path)
    } catch {
      return false
    }
    if (decoded.includes('\0') || decoded.split('/').includes('..') || decoded.includes('\\')) return false
    let file = join(root, decoded)
    if (file !== root && !file.startsWith(root + sep)) return false
    try {
      if ((await stat(file)).isDirectory()) file = join(file, 'index.html')
      const info = await stat(file)
      if (!info.isFile()) return false
      res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream', 'content-length': String(info.size), 'cache-control': 'no-cache' })
      if (req.method === 'HEAD') res.end()
      else createReadStream(file).on('error', () => { res.destroy() }).pipe(res)
      return true
    } catch {
      return false
    }
  }
}
