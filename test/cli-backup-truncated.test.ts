// A backup cut anywhere before its end (inside the magic, the header length,
// the header, a record, the trailer) is SCUTTLEDB_BACKUP_TRUNCATED, as
// docs/cli.md "Backups" says: a cut inside the header used to be INVALID.
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { Readable, Writable } from 'node:stream'
import test from 'tape'
import { Model } from '../lib/index.js'
import { readBackup, writeSnapshot } from '../lib/cli/backup-format.js'
import { tempDir } from './helpers.js'
import { runCli } from './fixtures/net-helpers.js'

/** A whole backup of a small database on disk. */
async function smallBackup (dir: string): Promise<Buffer> {
  const model = new Model({ db: join(dir, 'db') })
  await model.open()
  try {
    await model.set('a', 1)
    await model.set('b', { nested: ['x', 2] })
    const chunks: Buffer[] = []
    const out = new Writable({ write (chunk: Buffer, _enc, done) { chunks.push(chunk); done() } })
    await writeSnapshot(model, out)
    return Buffer.concat(chunks)
  } finally {
    await model.close()
  }
}

/** The code readBackup rejects `bytes` with, or 'ok'. */
async function codeOfReading (bytes: Buffer): Promise<string> {
  try {
    await readBackup(Readable.from([bytes]), () => {}, () => {})
    return 'ok'
  } catch (err) {
    return String((err as { code?: unknown }).code)
  }
}

test('a backup truncated to any length from 0 to its size minus one is SCUTTLEDB_BACKUP_TRUNCATED', async (t) => {
  const backup = await smallBackup(await tempDir(t))
  t.equal(await codeOfReading(backup), 'ok', `the whole backup (${backup.length} bytes) reads`)
  const wrong: string[] = []
  for (let n = 0; n < backup.length; n++) {
    const code = await codeOfReading(backup.subarray(0, n))
    if (code !== 'SCUTTLEDB_BACKUP_TRUNCATED') wrong.push(`${n}: ${code}`)
  }
  t.deepEqual(wrong, [], `every one of the ${backup.length} cuts is TRUNCATED`)
})

test('a backup truncated one byte at a time in chunks of one byte is SCUTTLEDB_BACKUP_TRUNCATED too', async (t) => {
  // The reader assembles reads across chunks: a cut inside a chunked header must not look like bad JSON.
  const backup = await smallBackup(await tempDir(t))
  const wrong: string[] = []
  for (const n of [0, 5, 17, 19, 21, 40, 60, backup.length - 33, backup.length - 1]) {
    const chunks = [...backup.subarray(0, n)].map((b) => Buffer.from([b]))
    const code = await (async () => {
      try { await readBackup(Readable.from(chunks), () => {}, () => {}); return 'ok' } catch (err) { return String((err as { code?: unknown }).code) }
    })()
    if (code !== 'SCUTTLEDB_BACKUP_TRUNCATED') wrong.push(`${n}: ${code}`)
  }
  t.deepEqual(wrong, [], 'each cut is TRUNCATED')
})

test('a file that is not a backup stays SCUTTLEDB_BACKUP_INVALID, and import of a cut header exits 1 with TRUNCATED', async (t) => {
  const dir = await tempDir(t)
  const backup = await smallBackup(dir)
  t.equal(await codeOfReading(Buffer.from('SCUTTLEDB-BACKUQ\n')), 'SCUTTLEDB_BACKUP_INVALID', 'a wrong magic is INVALID')
  t.equal(await codeOfReading(Buffer.from('hello')), 'SCUTTLEDB_BACKUP_INVALID', 'a short file that is no prefix of the magic is INVALID')
  const badHeader = Buffer.concat([backup.subarray(0, 17), Buffer.from([0, 0, 0, 3]), Buffer.from('{x}')])
  t.equal(await codeOfReading(badHeader), 'SCUTTLEDB_BACKUP_INVALID', 'a whole header that is not JSON is INVALID')
  const cut = join(dir, 'cut.bak')
  await writeFile(cut, backup.subarray(0, 60))
  const res = await runCli(['import', cut, '--db', join(dir, 'restored')])
  t.equal(res.code, 1, 'import exits 1')
  t.ok(res.stderr.trim().endsWith('[SCUTTLEDB_BACKUP_TRUNCATED]'), `its error line ends in SCUTTLEDB_BACKUP_TRUNCATED (${res.stderr.trim()})`)
})

test('a record length past the end of a backup of known size is TRUNCATED without reading the rest of the input', async (t) => {
  const backup = await smallBackup(await tempDir(t))
  // The first record's key length follows the magic, the header's length and the header.
  const headerLength = backup.readUInt32BE(17)
  const at = 17 + 4 + headerLength
  const flipped = Buffer.from(backup)
  flipped.writeUInt32BE(0x7ffffff0, at)
  // The file is followed by 32 MiB more of input: a reader that reads on buffers all of it.
  let pulled = 0
  const endless = Readable.from((function * () {
    yield flipped
    for (let i = 0; i < 512; i++) { pulled++; yield Buffer.alloc(64 * 1024) }
  })())
  let code = 'ok'
  try {
    await readBackup(endless, () => {}, () => {}, flipped.length)
  } catch (err) {
    code = String((err as { code?: unknown }).code)
  }
  endless.destroy()
  t.equal(code, 'SCUTTLEDB_BACKUP_TRUNCATED', 'refused as TRUNCATED')
  t.ok(pulled <= 2, `the reader stopped at the length (${pulled} chunks pulled past the file)`)
})

test('import of a backup with a flipped record length is refused at once and restores nothing', async (t) => {
  const dir = await tempDir(t)
  const backup = await smallBackup(dir)
  const at = 17 + 4 + backup.readUInt32BE(17)
  const flipped = Buffer.from(backup)
  flipped.writeUInt32BE(0x7ffffff0, at)
  const file = join(dir, 'flipped.backup')
  await writeFile(file, flipped)
  const run = await runCli(['import', file, '--db', join(dir, 'restored')])
  t.notEqual(run.code, 0, 'import fails')
  t.ok(run.stderr.includes('SCUTTLEDB_BACKUP_TRUNCATED'), `with the coded error (${run.stderr.trim()})`)
})
