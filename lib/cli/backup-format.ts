/**
 * The backup file of `scuttledb export` / `import` (docs/cli.md, "Backups"):
 * a magic line, a JSON header, the database's raw key/value records, and a
 * trailer with the record count and a SHA-256 of everything before it, so a
 * truncated or altered file is refused before anything is restored.
 */
import { createHash, type Hash } from 'node:crypto'
import type { Readable, Writable } from 'node:stream'
import { ScuttledbError } from '../errors.js'
import type { Model } from '../model.js'
import { msgpackEncoding } from '../msgpack.js'
import { FORMAT_VERSION, type Storage } from '../storage.js'

/** The first bytes of every backup file. */
export const MAGIC = Buffer.from('SCUTTLEDB-BACKUP\n', 'utf8')
/** The version of the backup file layout this code writes and reads. */
export const BACKUP_VERSION = 1
/** In place of a key length: the records end here and the trailer follows. */
const END = 0xffffffff

/** The coded errors of reading a backup. */
export const backupCodes = {
  /** Not a backup file (no magic, bad header, or a newer layout). */
  INVALID: 'SCUTTLEDB_BACKUP_INVALID',
  /** The file ends before its trailer: an export that did not finish, or a cut copy. */
  TRUNCATED: 'SCUTTLEDB_BACKUP_TRUNCATED',
  /** The trailer's count or checksum does not match the records. */
  CORRUPT: 'SCUTTLEDB_BACKUP_CORRUPT',
  /** import's target directory holds files: a restore never mixes into a database. */
  NOT_EMPTY: 'SCUTTLEDB_TARGET_NOT_EMPTY'
} as const

/** One of backupCodes. */
export type BackupCode = (typeof backupCodes)[keyof typeof backupCodes]

/** A coded backup error. */
export function backupError (code: BackupCode, message: string): ScuttledbError<BackupCode> {
  return new ScuttledbError<BackupCode>(message, code)
}

/** The header of a backup. */
export interface BackupHeader {
  version: number
  /** The node id of the database. */
  id: string
  /** Its storage format (lib/storage.ts FORMAT_VERSION when it was written). */
  storageFormat: number
  /** When the export started (ISO 8601). */
  created: string
}

function u32 (n: number): Buffer {
  const b = Buffer.alloc(4)
  b.writeUInt32BE(n)
  return b
}

/** Writes a backup to `out`, hashing as it goes; respects backpressure. */
export class BackupWriter {
  readonly #out: Writable
  readonly #hash: Hash = createHash('sha256')
  #count = 0
  /** Records not yet written: one write per ~64 KiB, not one per record. */
  #pending: Buffer[] = []
  #pendingBytes = 0

  constructor (out: Writable) {
    this.#out = out
  }

  async #write (bytes: Buffer): Promise<void> {
    this.#hash.update(bytes)
    if (!this.#out.write(bytes)) await new Promise<void>((resolve, reject) => {
      const onError = (err: Error): void => { this.#out.off('drain', onDrain); reject(err) }
      const onDrain = (): void => { this.#out.off('error', onError); resolve() }
      this.#out.once('drain', onDrain)
      this.#out.once('error', onError)
    })
  }

  /** The magic and header. */
  async header (header: BackupHeader): Promise<void> {
    const json = Buffer.from(JSON.stringify(header), 'utf8')
    await this.#write(Buffer.concat([MAGIC, u32(json.length), json]))
  }

  /** One raw record. */
  async record (key: Buffer, value: Buffer): Promise<void> {
    this.#count++
    this.#pending.push(u32(key.length), key, u32(value.length), value)
    this.#pendingBytes += 8 + key.length + value.length
    if (this.#pendingBytes >= 65536) await this.#flush()
  }

  async #flush (): Promise<void> {
    if (this.#pending.length === 0) return
    const bytes = Buffer.concat(this.#pending)
    this.#pending = []
    this.#pendingBytes = 0
    await this.#write(bytes)
  }

  /** The trailer: END, the record count (u64), the SHA-256 of all bytes before the digest. */
  async end (): Promise<number> {
    await this.#flush()
    const count = Buffer.alloc(8)
    count.writeBigUInt64BE(BigInt(this.#count))
    const tail = Buffer.concat([u32(END), count])
    this.#hash.update(tail)
    const digest = this.#hash.digest()
    await new Promise<void>((resolve, reject) => {
      this.#out.write(Buffer.concat([tail, digest]), (err) => { err == null ? resolve() : reject(err) })
    })
    return this.#count
  }
}

/**
 * The meta record `import` leaves on a restore that kept its id, until it has
 * synced with a peer: a local write before that would advance its clock for its
 * own id past the writes it has yet to get back, and they would never come back.
 */
export const RESTORE_MARK = 'restored'

/** The meta sublevel of a root database, as lib/storage.ts lays it out. */
export function metaOf (db: Storage['db']): Storage['db'] {
  return db.sublevel('meta', { keyEncoding: 'utf8', valueEncoding: msgpackEncoding }) as unknown as Storage['db']
}

/** True while the open `model`'s database is a restore that has not synced yet. */
export async function restorePending (model: Model): Promise<boolean> {
  return (await metaOf(rawDb(model)).get(RESTORE_MARK)) !== undefined
}

/** The restore has synced: accept local writes from now on. */
export async function clearRestore (model: Model): Promise<void> {
  await metaOf(rawDb(model)).del(RESTORE_MARK)
}

/** The coded error of a local write refused on an unsynced restore. */
export const RESTORE_UNSYNCED = 'SCUTTLEDB_RESTORE_UNSYNCED'

/** Records read per iterator step. */
const STEP = 1000

/** The instance's root database: storage is protected API (docs/subclassing.md), read here without changing it. */
function rawDb (model: Model): Storage['db'] {
  return (model as unknown as { _storage: Storage })._storage.db
}

/**
 * Write a backup of the open `model` to `out`. One LevelDB iterator over the
 * whole database reads from the implicit snapshot taken when it is created:
 * commits (atomic batches) made while it streams are either wholly in it or not at all.
 */
export async function writeSnapshot (model: Model, out: Writable): Promise<number> {
  const db = rawDb(model)
  const writer = new BackupWriter(out)
  const iterator = db.iterator({ keyEncoding: 'buffer', valueEncoding: 'buffer' })
  try {
    // The id and format never change while it is open (an upgrade ran at open).
    await writer.header({ version: BACKUP_VERSION, id: model.id, storageFormat: FORMAT_VERSION, created: new Date().toISOString() })
    for (let page = await iterator.nextv(STEP); page.length > 0; page = await iterator.nextv(STEP)) {
      for (const [key, value] of page as Array<[Buffer, Buffer]>) await writer.record(key, value)
    }
  } finally {
    await iterator.close()
  }
  return await writer.end()
}

/** The error of a file that ends before its checksum. */
function truncated (): ScuttledbError<BackupCode> {
  return backupError(backupCodes.TRUNCATED, 'The backup file ends early (an unfinished export, or a cut copy): nothing was restored')
}

/** Reads exact byte counts from a stream. */
class ByteReader {
  readonly #chunks: AsyncIterator<Buffer>
  /** Bytes read from the input and not yet taken, as they came (joined once enough is there). */
  #pending: Buffer[] = []
  #buffered = 0
  /** Bytes taken so far; with `size`, a length past the end is known at once. */
  #taken = 0
  readonly #size: number | undefined
  readonly hash: Hash = createHash('sha256')

  /** `size`: the input's length when known (a file's), so that a length past it is TRUNCATED without reading on. */
  constructor (input: Readable, size?: number) {
    this.#chunks = (input as AsyncIterable<Buffer>)[Symbol.asyncIterator]()
    this.#size = size
  }

  /** Gather at least `n` bytes (fewer only at the end of the input); false at the end. */
  async #fill (n: number): Promise<boolean> {
    while (this.#buffered < n) {
      const next = await this.#chunks.next()
      if (next.done === true) return false
      this.#pending.push(next.value)
      this.#buffered += next.value.length
    }
    return true
  }

  /** The next `n` bytes buffered (n <= buffered): one join however many chunks they span. */
  #take (n: number): Buffer {
    if (this.#pending.length > 1) this.#pending = [Buffer.concat(this.#pending, this.#buffered)]
    const whole = this.#pending[0] ?? Buffer.alloc(0)
    const out = whole.subarray(0, n)
    this.#pending = whole.length > n ? [whole.subarray(n)] : []
    this.#buffered -= out.length
    this.#taken += out.length
    return out
  }

  /** `n` bytes (hashed unless `hash` is false), or TRUNCATED at the end of the stream. */
  async read (n: number, hash = true): Promise<Buffer> {
    // A length the input cannot hold (a cut copy, or a flipped length byte) is known now:
    // reading on would buffer the rest of the file first.
    if (this.#size !== undefined && this.#taken + n > this.#size) throw truncated()
    if (!(await this.#fill(n))) throw truncated()
    const out = this.#take(n)
    if (hash) this.hash.update(out)
    return out
  }

  /** Up to `n` bytes (hashed): fewer only at the end of the stream. */
  async readAtMost (n: number): Promise<Buffer> {
    await this.#fill(n)
    const out = this.#take(Math.min(n, this.#buffered))
    this.hash.update(out)
    return out
  }

  /** True when nothing follows. */
  async atEnd (): Promise<boolean> {
    return !(await this.#fill(1))
  }
}

/**
 * Read a backup: `onHeader` first (it may refuse it), then every record, then
 * the trailer is checked. Throws a backupCodes error for a file that is not a
 * whole, intact backup: check the whole file before restoring from it.
 */
export async function readBackup (input: Readable, onHeader: (h: BackupHeader) => void | Promise<void>, onRecord: (key: Buffer, value: Buffer) => void | Promise<void>, size?: number): Promise<{ header: BackupHeader, count: number }> {
  const reader = new ByteReader(input, size)
  // Any prefix of a backup (an empty file, a few bytes of the magic) is a cut
  // copy, TRUNCATED; only bytes that differ from the magic make it INVALID.
  const magic = await reader.readAtMost(MAGIC.length)
  if (!magic.equals(MAGIC.subarray(0, magic.length))) throw backupError(backupCodes.INVALID, 'Not a scuttledb backup file (made by "scuttledb export")')
  if (magic.length < MAGIC.length) throw truncated()
  const length = (await reader.read(4)).readUInt32BE()
  if (length > 1 << 20) throw backupError(backupCodes.INVALID, 'The backup header is too large')
  // Read before parsing, so a header cut short is TRUNCATED, not "not JSON".
  const text = (await reader.read(length)).toString('utf8')
  let header: BackupHeader
  try {
    header = JSON.parse(text) as BackupHeader
  } catch {
    throw backupError(backupCodes.INVALID, 'The backup header is not JSON')
  }
  if (header === null || typeof header !== 'object' || typeof header.id !== 'string' || !Number.isInteger(header.storageFormat)) {
    throw backupError(backupCodes.INVALID, 'The backup header lacks its id or storage format')
  }
  if (header.version !== BACKUP_VERSION) throw backupError(backupCodes.INVALID, `Backup version ${String(header.version)} is not supported (this version reads ${BACKUP_VERSION})`)
  await onHeader(header)
  let count = 0
  for (;;) {
    const keyLength = (await reader.read(4)).readUInt32BE()
    if (keyLength === END) break
    const key = await reader.read(keyLength)
    const value = await reader.read((await reader.read(4)).readUInt32BE())
    count++
    await onRecord(key, value)
  }
  const declared = (await reader.read(8)).readBigUInt64BE()
  const expected = reader.hash.digest()
  const digest = await reader.read(32, false)
  if (!digest.equals(expected) || declared !== BigInt(count)) throw backupError(backupCodes.CORRUPT, 'The backup file does not match its checksum: nothing was restored')
  if (!(await reader.atEnd())) throw backupError(backupCodes.CORRUPT, 'The backup file has bytes after its trailer')
  return { header, count }
}
