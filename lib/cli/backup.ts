/**
 * `scuttledb export` and `scuttledb import`: a consistent snapshot of a
 * database to a file, through a running node (`GET /export`) or from its
 * directory, and its restore into a new database directory.
 */
import { createReadStream } from 'node:fs'
import { mkdir, open, readdir, realpath, rename, rm, stat } from 'node:fs/promises'
import { Level } from 'level'
import { codes, error } from '../errors.js'
import { msgpackEncoding } from '../msgpack.js'
import { FORMAT_VERSION } from '../storage.js'
import { DEFAULT_NODE, help, msArg, parse, parseNodeUrl, str, usageError } from './args.js'
import { EXPORT_IDLE_MS, HttpBackend, assertDatabase, assertDirectoryPath, readToken } from './backend.js'
import { RESTORE_MARK, backupCodes, backupError, readBackup, writeSnapshot } from './backup-format.js'
import { openModel } from './node.js'
import type { Terminal } from './serve.js'

/** Records written per batch on import. */
const STEP = 1000

async function exists (path: string): Promise<boolean> {
  return await stat(path).then(() => true, () => false)
}

/** `scuttledb export [--node URL [--token-file FILE] | --db DIR] FILE`. */
export async function exportCommand (args: string[], term: Terminal): Promise<number> {
  const { values, positionals } = parse(args, { node: { type: 'string' }, db: { type: 'string' }, 'token-file': { type: 'string' }, 'idle-timeout': { type: 'string' } })
  if (values.help === true) {
    term.stdout.write(help.export)
    return 0
  }
  if (positionals.length !== 1) throw usageError(`expected 1 argument (FILE), got ${positionals.length}`, help.export)
  const file = positionals[0]
  const db = str(values, 'db')
  const node = str(values, 'node')
  if (db !== undefined && node !== undefined) throw usageError('Give --node or --db, not both')
  if (db !== undefined && str(values, 'token-file') !== undefined) throw usageError('--token-file goes with --node (a database directory has no tokens)')
  if (db !== undefined && str(values, 'idle-timeout') !== undefined) throw usageError('--idle-timeout goes with --node (a database directory is read, not waited for)')
  const idleMs = msArg(str(values, 'idle-timeout'), EXPORT_IDLE_MS, 'idle-timeout')
  if (await exists(file)) throw usageError(`${file} exists: export never overwrites a file`)
  // Written beside, renamed when whole and checked: FILE is never a partial backup.
  const partial = `${file}.partial`
  // Opened here, not by the stream: its error must be a coded line, and a partial file
  // this export did not create (another export's, or one killed part way) is never removed.
  const handle = await open(partial, 'wx').catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'EEXIST') throw usageError(`${partial} exists: another export to ${file} is running, or one was interrupted (then remove it)`)
    throw usageError(`Cannot write ${partial}: ${err.message}`)
  })
  try {
    const out = handle.createWriteStream()
    const done = new Promise<void>((resolve, reject) => { out.on('finish', resolve); out.on('error', reject) })
    // Awaited below; a write error meanwhile also fails the export's writes (not an unhandled rejection).
    done.catch(() => {})
    if (db !== undefined) {
      await assertDatabase(db)
      const model = await openModel(db)
      try {
        await writeSnapshot(model, out)
      } finally {
        await model.close()
      }
    } else {
      const backend = new HttpBackend(parseNodeUrl(node ?? DEFAULT_NODE), await readToken(str(values, 'token-file')))
      try {
        await backend.export(out, idleMs)
      } finally {
        await backend.close()
      }
    }
    out.end()
    await done
    // A connection cut mid-stream leaves a file without its trailer: refused here, not at restore.
    const { header, count } = await readBackup(createReadStream(partial), () => {}, () => {}, (await stat(partial)).size)
    await rename(partial, file)
    term.stdout.write(`exported ${count} records of ${header.id} to ${file}\n`)
    return 0
  } catch (err) {
    await handle.close().catch(() => {})
    await rm(partial, { force: true })
    throw err
  }
}

/** `scuttledb import FILE --db DIR [--new-id]`. */
export async function importCommand (args: string[], term: Terminal): Promise<number> {
  const { values, positionals } = parse(args, { db: { type: 'string' }, 'new-id': { type: 'boolean' } })
  if (values.help === true) {
    term.stdout.write(help.import)
    return 0
  }
  if (positionals.length !== 1) throw usageError(`expected 1 argument (FILE), got ${positionals.length}`, help.import)
  const file = positionals[0]
  const dir = str(values, 'db')
  if (dir === undefined) throw usageError('import needs --db DIR: a new directory for the restored database', help.import)
  const info = await stat(file).catch(() => undefined)
  if (info === undefined) throw usageError(`Cannot read ${file}`)
  // Read twice (checked, then restored): a pipe would read empty the second time, a FIFO block.
  if (!info.isFile()) throw usageError(`${file} is not a regular file: import reads it twice (to check it, then to restore it); save the backup to a file first`)
  await assertDirectoryPath(dir)
  const entries = await readdir(dir).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return undefined
    throw err
  })
  if (entries !== undefined && entries.length > 0) {
    throw backupError(backupCodes.NOT_EMPTY, `${dir} is not empty: import restores into a new database only`)
  }
  // First pass: the whole file is checked (a truncated one is refused) before a byte is written.
  await readBackup(createReadStream(file), (h) => {
    if (h.storageFormat > FORMAT_VERSION) throw error(codes.UNSUPPORTED_FORMAT, `The backup has storage format ${h.storageFormat}; this version reads up to ${FORMAT_VERSION}`)
  }, () => {}, info.size)
  // Written beside, renamed into place once whole: a kill part way leaves DIR as it was
  // (absent or empty), never a database that opens with some of the records.
  // A symlink to an empty directory (a data directory on another disk) is restored where it points.
  const target = entries === undefined ? dir : await realpath(dir)
  const partial = `${target.replace(/[/\\]+$/, '')}.importing-${process.pid}-${Date.now().toString(36)}`
  await mkdir(partial, { recursive: true })
  try {
    const db = new Level<Buffer, Buffer>(partial, { keyEncoding: 'buffer', valueEncoding: 'buffer' })
    await db.open()
    let ops: Array<{ type: 'put', key: Buffer, value: Buffer }> = []
    const { header, count } = await readBackup(createReadStream(file), () => {}, async (key, value) => {
      ops.push({ type: 'put', key, value })
      if (ops.length >= STEP) { await db.batch(ops); ops = [] }
    }, info.size).catch(async (err: unknown) => { await db.close(); throw err })
    await db.batch(ops)
    // A new id: forget the old one; the first open chooses one (as for a new database).
    const meta = db.sublevel('meta', { keyEncoding: 'utf8', valueEncoding: msgpackEncoding })
    if (values['new-id'] === true) await meta.batch([{ type: 'del', key: 'id' }, { type: 'del', key: RESTORE_MARK }])
    // Same id: no local write until it has synced with a peer (backup-format.ts RESTORE_MARK).
    else await meta.put(RESTORE_MARK, header.created)
    await db.close()
    const model = await openModel(partial)
    const id = model.id
    await model.close()
    // An empty DIR is replaced (rename takes the place of an empty directory).
    await rename(partial, target)
    term.stdout.write(`imported ${count} records into ${dir}: id ${id}${id === header.id ? ' (kept: it accepts writes once synced with a peer)' : ` (new; was ${header.id})`}\n`)
    return 0
  } catch (err) {
    await rm(partial, { recursive: true, force: true })
    throw err
  }
}
