import { createReadStream } from 'node:fs'
import { createInterface } from 'node:readline'
import { Readable } from 'node:stream'
import { invalidValue } from '../errors.js'
import { hasCode, netCodes, netError } from '../net/errors.js'
import { isWellFormed, valueProblem } from '../value-domain.js'
import { DEFAULT_NODE, clientOptions, help, parse, parseNodeUrl, parseValue, str, usageError, type Values } from './args.js'
import { DbBackend, HttpBackend, readToken, type Backend, type Entry } from './backend.js'
import { inexactInteger, inexactMessage } from './http-json.js'
import { loadNodeKeys } from './security.js'
import type { Terminal } from './serve.js'

/** The client commands. */
export const clientCommands = ['get', 'set', 'del', 'ls', 'watch', 'dump', 'load', 'status'] as const

/** One of the client commands. */
export type ClientCommand = (typeof clientCommands)[number]

const extraOptions: Record<ClientCommand, NonNullable<Parameters<typeof parse>[1]>> = {
  get: {},
  set: { raw: { type: 'boolean' } },
  del: {},
  ls: { after: { type: 'string' }, limit: { type: 'string' } },
  watch: {},
  dump: {},
  load: {},
  status: {}
}

/** What the positionals are, for the arity error. */
const argNames: Record<ClientCommand, string> = {
  get: ' (KEY)', set: ' (KEY VALUE)', del: ' (KEY)', ls: '', watch: '', dump: '', load: ' (FILE, or none for stdin)', status: ''
}

/** How many positionals each command takes: [least, most]. */
const arity: Record<ClientCommand, [number, number]> = {
  get: [1, 1], set: [2, 2], del: [1, 1], ls: [0, 0], watch: [0, 0], dump: [0, 0], load: [0, 1], status: [0, 0]
}

/** The commands that write: only they may create a database directory. */
const writes: ReadonlySet<ClientCommand> = new Set(['set', 'del', 'load'])

async function backendOf (command: ClientCommand, values: Values): Promise<Backend> {
  const db = str(values, 'db')
  const node = str(values, 'node')
  const key = str(values, 'key')
  if (db !== undefined && node !== undefined) throw usageError('Give --node or --db, not both')
  const tokenFile = str(values, 'token-file')
  if (key !== undefined && db === undefined) throw usageError('--key goes with --db (a running node signs with its own key)')
  if (tokenFile !== undefined && db !== undefined) throw usageError('--token-file goes with --node (a database directory has no tokens)')
  if (db !== undefined) return await DbBackend.open(db, key === undefined ? undefined : await loadNodeKeys(key), writes.has(command))
  return new HttpBackend(parseNodeUrl(node ?? DEFAULT_NODE), await readToken(tokenFile))
}

/**
 * A key as `ls` prints it: as it is, unless it holds a tab or a line break or starts with
 * a double quote; then as its JSON string, so every line is one key and its value.
 */
function listedKey (key: string): string {
  return /[\t\n\r]/.test(key) || key.startsWith('"') ? JSON.stringify(key) : key
}

function json (value: unknown): string {
  return JSON.stringify(value) ?? 'null'
}

/** Run a client command; resolves with the exit status. */
export async function runClient (command: ClientCommand, args: string[], term: Terminal): Promise<number> {
  const { values, positionals } = parse(args, { ...clientOptions, ...extraOptions[command] })
  if (values.help === true) {
    term.stdout.write(help[command])
    return 0
  }
  const [least, most] = arity[command]
  if (positionals.length < least || positionals.length > most) {
    const expected = least === most ? `${least} argument${least === 1 ? '' : 's'}` : `${least} to ${most} arguments`
    throw usageError(`expected ${expected}${argNames[command]}, got ${positionals.length}`, help[command])
  }
  if (command === 'watch' && str(values, 'db') !== undefined) {
    // Checked before opening it: on a node's directory, opening would fail with a lock error instead.
    throw usageError(`watch needs a running node: use --node URL (the HTTP API of the node serving that directory; default ${DEFAULT_NODE}), not --db`)
  }
  const limit = command === 'ls' ? lsLimit(str(values, 'limit')) : Infinity
  // A load is read and checked before the database is even opened (or made).
  const entries = command === 'load' ? await readEntries(positionals[0]) : new Map<string, unknown>()
  const backend = await backendOf(command, values)
  try {
    return await run(command, backend, positionals, values, limit, term, entries)
  } finally {
    await backend.close()
  }
}

function lsLimit (text: string | undefined): number {
  if (text === undefined) return Infinity
  if (!/^\d+$/.test(text) || Number(text) < 1) throw usageError(`--limit must be a positive integer, not "${text}"`)
  return Number(text)
}

async function run (command: ClientCommand, backend: Backend, args: string[], values: Values, limit: number, term: Terminal, entries: Map<string, unknown>): Promise<number> {
  const out = term.stdout
  switch (command) {
    case 'get': {
      const value = await backend.get(args[0])
      if (value === undefined) throw netError(netCodes.NOT_FOUND, `No key ${JSON.stringify(args[0])}`)
      out.write(json(value) + '\n')
      return 0
    }
    case 'set':
      await backend.set(args[0], exactValue(args[1], values.raw === true))
      return 0
    case 'del':
      await backend.set(args[0], null)
      return 0
    case 'ls':
    case 'dump': {
      let after = command === 'ls' ? str(values, 'after') ?? null : null
      let left = limit
      let binary = 0
      for (;;) {
        const page = await backend.list(after, Math.min(1000, left))
        for (const item of page.items) {
          if (item.unrepresentable === true) binary++
          // A slow reader (a pipe) holds us back rather than filling memory.
          const ok = out.write(command === 'ls' ? `${listedKey(item.key)}\t${json(item.value)}\n` : `${json(item)}\n`)
          if (!ok) await new Promise((resolve) => out.once('drain', resolve))
        }
        left -= page.items.length
        if (page.next === null || left <= 0) break
        after = page.next
      }
      if (binary > 0) term.stderr.write(`scuttledb ${command}: ${binary} ${binary === 1 ? 'value holds' : 'values hold'} binary, which JSON cannot carry: shown as null${command === 'dump' ? ' with "unrepresentable": true (load refuses those lines; export makes a complete backup)' : ''}\n`)
      return 0
    }
    case 'watch':
      return await watch(backend, term)
    case 'load':
      return await load(backend, entries, term)
    case 'status':
      out.write(JSON.stringify(await backend.status(), null, 2) + '\n')
      return 0
  }
}

async function watch (backend: Backend, term: Terminal): Promise<number> {
  const abort = new AbortController()
  const stop = (): void => { abort.abort() }
  process.once('SIGINT', stop)
  process.once('SIGTERM', stop)
  try {
    await backend.watch(
      (change) => { term.stdout.write(json(change) + '\n') },
      () => { term.stderr.write('watching for changes (Ctrl-C to stop)\n') },
      abort.signal,
      (err, ms) => { term.stderr.write(`${err.message}: resuming in ${ms} ms\n`) }
    )
  } finally {
    process.off('SIGINT', stop)
    process.off('SIGTERM', stop)
  }
  return 0
}

/**
 * `set`'s VALUE as parseValue reads it, but an integer literal that JSON.parse
 * would round (beyond 2^53) is SCUTTLEDB_INVALID_VALUE, not stored rounded.
 * A VALUE that is no JSON is stored as the text, whatever digits it holds.
 */
function exactValue (text: string, raw: boolean): unknown {
  const value = parseValue(text, raw)
  if (raw || !isJson(text)) return value
  const inexact = inexactInteger(text)
  if (inexact !== undefined) throw invalidValue(`${inexactMessage(inexact)} (set --raw stores the text)`)
  return value
}

function isJson (text: string): boolean {
  try {
    JSON.parse(text)
    return true
  } catch {
    return false
  }
}

/** Parse and check one line of a dump: `{"key": string, "value": any}`, the value in the value domain. */
function parseLine (line: string, n: number): Entry {
  let entry: unknown
  try {
    entry = JSON.parse(line)
  } catch {
    throw netError(netCodes.BAD_REQUEST, `Line ${n} is not JSON`)
  }
  const { key, value, unrepresentable } = (entry ?? {}) as { key?: unknown, value?: unknown, unrepresentable?: unknown }
  // The empty key is a key (set '' and dump take it): a dump holding it must load.
  if (typeof key !== 'string' || value === undefined) {
    throw netError(netCodes.BAD_REQUEST, `Line ${n} must be {"key": "...", "value": ...}`)
  }
  // A dump's line for a binary value: loading its null would delete the key.
  if (unrepresentable === true) throw netError(netCodes.BAD_REQUEST, `Line ${n}: the value of ${JSON.stringify(key)} was binary, which a dump cannot carry (use export and import)`)
  // JSON can spell values a Model refuses (-0, lone surrogates): refuse them here, before anything is written.
  const inexact = inexactInteger(line)
  if (inexact !== undefined) throw netError(netCodes.BAD_REQUEST, `Line ${n}: ${inexactMessage(inexact)}`)
  const problem = isWellFormed(key) ? valueProblem(value) : 'the key has a lone surrogate'
  if (problem !== undefined) throw netError(netCodes.BAD_REQUEST, `Line ${n}: ${problem}`)
  return { key, value }
}

/** Read and check every line of a load; the first bad one fails it (SCUTTLEDB_BAD_REQUEST, with its number). */
async function readEntries (file: string | undefined): Promise<Map<string, unknown>> {
  const input = file === undefined || file === '-' ? process.stdin : createReadStream(file)
  // Bytes that are not UTF-8 would be read as U+FFFD and stored as values the file does not hold.
  const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })
  const decoded = Readable.from((async function * () {
    for await (const chunk of input) yield decoder.decode(chunk as Buffer, { stream: true })
    yield decoder.decode()
  })())
  const lines = createInterface({ input: decoded, crlfDelay: Infinity })
  // Later lines for a key win, as the writes would in order (and two writes of one key never race).
  const entries = new Map<string, unknown>()
  let n = 0
  try {
    for await (const text of lines) {
      n++
      // A byte order mark, as editors on Windows save UTF-8, is no part of the first line.
      const line = n === 1 ? text.replace(/^\ufeff/, '') : text
      if (line.trim().length === 0) continue
      const { key, value } = parseLine(line, n)
      entries.delete(key)
      entries.set(key, value)
    }
  } catch (err) {
    if (hasCode(err, 'ENOENT') || hasCode(err, 'EACCES') || hasCode(err, 'EISDIR')) throw usageError(`Cannot read ${file ?? 'stdin'}: ${(err as Error).message}`)
    if (hasCode(err, 'ERR_ENCODING_INVALID_ENCODED_DATA')) throw netError(netCodes.BAD_REQUEST, `The input is not valid UTF-8 (line ${n + 1} or after); nothing was loaded`)
    if (hasCode(err, netCodes.BAD_REQUEST)) throw netError(netCodes.BAD_REQUEST, `${(err as Error).message}; nothing was loaded`)
    throw err
  } finally {
    lines.close()
  }
  return entries
}

/**
 * `load`: the lines were all read and checked first (nothing is written if one
 * is bad); then they are written as one atomic batch, on a database opened here
 * (`Model#batch()`) or through a running node (`POST /batch`): all keys or none.
 */
async function load (backend: Backend, entries: Map<string, unknown>, term: Terminal): Promise<number> {
  await backend.setAll(entries)
  term.stdout.write(`loaded ${entries.size} keys\n`)
  return 0
}
