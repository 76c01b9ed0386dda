import type http from 'node:http'
import type { Model, ModelChange } from '../model.js'
import { pack, unpack } from '../msgpack.js'
import type { Clock, Source, Update } from '../protocol.js'
import { HttpError, httpCodes } from './http-errors.js'
import { MAX_PAGE_CHARS, jsonChars, viewOf } from './json-view.js'

/**
 * The changes feed (`GET /events`, `GET /changes`). A position is a vector clock:
 * for each source, the newest timestamp the client has been given. Resuming from
 * it reads `history(position)` from storage, then goes live; every source's updates
 * arrive in timestamp order, so "newer than the position" is exact, and a
 * position is valid on any node of the same data.
 */

/** One change as the feed sends it. */
export interface FeedChange {
  key: string
  value: unknown
  ts: number
  source: Source
  /** The value could not be written as JSON (binary): it is sent as null. */
  unrepresentable?: true
}

/** An SSE client this far behind is dropped rather than buffered without bound. */
const MAX_SSE_BACKLOG = 4 * 1024 * 1024
/**
 * What all event streams together may hold for their clients (backlogs, live changes held during
 * a resume): each gets an equal share, at most MAX_SSE_BACKLOG. Per client alone, a thousand
 * clients that read nothing held 4 MiB each and the node died of heap exhaustion.
 */
const MAX_SSE_TOTAL = 64 * 1024 * 1024
/** Comment lines keep idle SSE connections open through proxies. */
const SSE_HEARTBEAT = 15_000
/** Live updates held while a resume reads storage; past this the read starts over from the position reached. */
const MAX_RESUME_BUFFER = 10_000
/** Updates read from storage per step of a replay. */
const REPLAY_STEP = 256
/** Bytes of live messages held while a resume reads storage; past this, as past MAX_RESUME_BUFFER, the read starts over. */
const MAX_RESUME_BYTES = MAX_SSE_BACKLOG

/** Encode a position: base64url of msgpack `[source, ts, source, ts, ...]` (an array: no prototype keys). */
export function encodePosition (clock: Clock): string {
  const flat: Array<string | number> = []
  for (const [source, ts] of [...clock].sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0)) flat.push(source, ts)
  return pack(flat).toString('base64url')
}

/** Decode a position; `''` or `0` is the beginning, `now` the node's current clock. */
export function decodePosition (text: string, model: Model): Clock {
  if (text === '' || text === '0') return new Map()
  if (text === 'now') return new Map(Object.entries(model.clock))
  const bad = (): HttpError => new HttpError(400, httpCodes.BAD_POSITION, 'The position (since, Last-Event-ID) is not one this API gave out')
  if (!/^[A-Za-z0-9_-]+$/.test(text)) throw bad()
  let flat: unknown
  try {
    flat = unpack(Buffer.from(text, 'base64url'))
  } catch {
    throw bad()
  }
  if (!Array.isArray(flat) || flat.length % 2 !== 0) throw bad()
  const clock: Clock = new Map()
  for (let i = 0; i < flat.length; i += 2) {
    const [source, ts] = [flat[i] as unknown, flat[i + 1] as unknown]
    if (typeof source !== 'string' || typeof ts !== 'number' || !Number.isFinite(ts) || ts < 0) throw bad()
    clock.set(source, ts)
  }
  return clock
}

/** Move `pos` past an update (each source's updates come in timestamp order). */
function advance (pos: Clock, ts: number, source: Source): boolean {
  if (ts <= (pos.get(source) ?? 0)) return false
  pos.set(source, ts)
  return true
}

function feedChange ([key, value]: ModelChange, ts: number, source: Source): FeedChange {
  return { ...viewOf(key, value), ts, source }
}

/**
 * The changes after `pos` held in storage, in `(ts, source)` order, a page at a
 * time: null where an update is no longer its key's winner (a source's latest
 * update stays stored after it is superseded; the winner is sent instead).
 */
async function * replay (model: Model, pos: Clock): AsyncGenerator<Array<{ ts: number, source: Source, change: FeedChange | null }>> {
  let page: Update[] = []
  const flush = async (): Promise<Array<{ ts: number, source: Source, change: FeedChange | null }>> => {
    const winners = await model._winners(page.map((u) => (u[0] as ModelChange)[0]))
    const out = page.map((u, i) => {
      const w = winners[i]
      const won = w !== undefined && w[0] === u[1] && w[1] === u[2]
      return { ts: u[1], source: u[2], change: won ? feedChange(u[0] as ModelChange, u[1], u[2]) : null }
    })
    page = []
    return out
  }
  for await (const update of model.history(Object.fromEntries(pos))) {
    page.push(update)
    if (page.length >= REPLAY_STEP) yield await flush()
  }
  if (page.length > 0) yield await flush()
}

/** `GET /changes?since=&limit=`: at most `limit` changes after `since`, the position after them, and whether more wait. */
export async function changesPage (model: Model, since: Clock, limit: number): Promise<{ changes: FeedChange[], last: string, more: boolean }> {
  const pos = new Map(since)
  const changes: FeedChange[] = []
  let more = false
  let chars = 0
  outer: for await (const page of replay(model, pos)) {
    for (const item of page) {
      if (changes.length === limit || chars >= MAX_PAGE_CHARS) {
        // Only a change still to send makes "more" true; superseded leftovers do not.
        if (item.change !== null) {
          more = true
          break outer
        }
        continue
      }
      advance(pos, item.ts, item.source)
      if (item.change !== null) {
        chars += jsonChars(item.change)
        changes.push(item.change)
      }
    }
  }
  return { changes, last: encodePosition(pos), more }
}

function message (change: FeedChange, pos: Clock): string {
  return `id: ${encodePosition(pos)}\ndata: ${JSON.stringify(change)}\n\n`
}

/**
 * Serve `GET /events`: from `since` (null: now) what storage holds, then every
 * committed update live; each message's `id` is the position after it.
 */
export function serveEvents (model: Model, req: http.IncomingMessage, res: http.ServerResponse, since: Clock | null, log: (line: string) => void, open: Set<http.ServerResponse>, maxBuffer = MAX_RESUME_BUFFER, heartbeat = SSE_HEARTBEAT): void {
  const pos: Clock = since ?? new Map(Object.entries(model.clock))
  res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive' })
  // The first comment tells the client its subscription is live; the id, where it starts.
  res.write(`: connected\nid: ${encodePosition(pos)}\n\n`)
  if (req.method === 'HEAD') {
    res.end()
    return
  }
  let closed = false
  let gone: () => void = () => {}
  const closedPromise = new Promise<void>((resolve) => { gone = resolve })
  let replaying = since !== null
  let buffer: Array<[FeedChange, string]> = []
  let bufferBytes = 0
  let overflow = false
  /** While a replay waits for the client to take what it was sent: how many heartbeats found it still waiting. */
  let waitingBeats = -1
  const who = req.socket.remoteAddress ?? '?'
  /** This stream's share of MAX_SSE_TOTAL. */
  const share = (): number => Math.min(MAX_SSE_BACKLOG, Math.floor(MAX_SSE_TOTAL / Math.max(1, open.size)))
  const write = (text: string): boolean => {
    // A client that took everything it was sent gets the next message, however large.
    if (res.writableLength > 0 && res.writableLength + text.length > share()) {
      log(`events: dropping ${who}: it is not reading`)
      res.destroy()
      return false
    }
    return res.write(text)
  }
  const onUpdate = (change: unknown, ts: number, source: Source): void => {
    if (closed) return
    if (replaying) {
      // Held until storage has been read; past the cap, storage is read again from where it got.
      // The message is made now, so that what is held is counted in bytes (values may be large).
      if (overflow) return
      const fed = feedChange(change as ModelChange, ts, source)
      const data = JSON.stringify(fed)
      if (buffer.length >= maxBuffer || bufferBytes + data.length > Math.min(MAX_RESUME_BYTES, share())) {
        overflow = true
        buffer = []
        bufferBytes = 0
      } else {
        buffer.push([fed, data])
        bufferBytes += data.length
      }
      return
    }
    if (advance(pos, ts, source)) write(message(feedChange(change as ModelChange, ts, source), pos))
  }
  const beat = setInterval(() => {
    // A replay waits for the client to drain; one that took nothing for a whole heartbeat is not reading.
    if (waitingBeats >= 0 && ++waitingBeats >= 2) {
      log(`events: dropping ${who}: it is not reading`)
      res.destroy()
      return
    }
    write(': keep-alive\n\n')
  }, heartbeat)
  beat.unref()
  // Subscribe before reading storage: nothing committed in between is missed (duplicates are skipped by `pos`).
  model.on('update', onUpdate)
  open.add(res)
  res.once('close', () => {
    closed = true
    gone()
    clearInterval(beat)
    model.off('update', onUpdate)
    open.delete(res)
  })
  if (!replaying) return
  const resume = async (): Promise<void> => {
    do {
      overflow = false
      buffer = []
      bufferBytes = 0
      for await (const page of replay(model, new Map(pos))) {
        if (closed) return
        for (const item of page) {
          if (!advance(pos, item.ts, item.source) || item.change === null) continue
          // Storage is read no faster than the client takes it: a page's messages are not all
          // queued at once (256 large values would be held for a client that does not read).
          if (!res.write(message(item.change, pos)) && !closed) {
            waitingBeats = 0
            await Promise.race([new Promise((resolve) => res.once('drain', resolve)), closedPromise])
            waitingBeats = -1
          }
          if (closed) return
        }
      }
    } while (overflow && !closed)
    if (closed) return
    let text = ''
    for (const [change, data] of buffer) if (advance(pos, change.ts, change.source)) text += `id: ${encodePosition(pos)}\ndata: ${data}\n\n`
    buffer = []
    bufferBytes = 0
    replaying = false
    // Not through write(): what was held is within this stream's share already, and the replay
    // waited for the client to drain, so a client that reads is not dropped for it.
    res.write(text + ': live\n\n')
  }
  resume().catch((err: unknown) => {
    log(`events: resuming for ${who} failed: ${(err as Error).message}`)
    res.destroy()
  })
}
