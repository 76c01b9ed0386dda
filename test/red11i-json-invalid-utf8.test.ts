// Red-team round 11i. The JSON wire decoded each line with a non-fatal TextDecoder:
// a line from a peer that is not valid UTF-8 (JSON text must be) was read with
// replacement characters, and [['k', 'a\xffb'], ts, source] stored "a\ufffdb", a
// value the peer never sent. It must close the stream with SCUTTLEDB_INVALID_FRAME
// and store nothing, as HTTP bodies already are (test/red11b-invalid-utf8.test.ts).
import { once } from 'node:events'
import test from 'tape'
import type { ReplicationStream } from '../lib/index.js'
import { diskModel } from './helpers.js'

/** The stream's error code, or 'none' once it synced or closed without one. */
async function outcome (s: ReplicationStream): Promise<string> {
  return await new Promise((resolve) => {
    s.once('error', (err) => { resolve(String((err as { code?: string }).code)) })
    s.once('syncReceived', () => { setImmediate(() => { resolve('none') }) })
    s.once('close', () => { setImmediate(() => { resolve('none') }) })
  })
}

const HEADER = Buffer.from('{"id":"peer","clock":{}}\n')
const INVALID = Buffer.concat([Buffer.from('[["k","a'), Buffer.from([0xff]), Buffer.from('b"],5,"peer"]\n')])

test('a JSON line that is not UTF-8 closes the stream with SCUTTLEDB_INVALID_FRAME and stores nothing', async (t) => {
  const db = await diskModel(t)
  const s = db.createStream({ wrapper: 'json' })
  const result = outcome(s)
  s.resume()
  s.write(HEADER)
  s.write(INVALID)
  s.write('"SYNC"\n')
  t.equal(await result, 'SCUTTLEDB_INVALID_FRAME', 'coded error')
  t.deepEqual(await db.toJSON(), {}, 'nothing stored')
  t.equal(db.stats.rejected, 1, 'counted as rejected')
})

test('an unfinished JSON line that is not UTF-8 at the end of the input is SCUTTLEDB_INVALID_FRAME', async (t) => {
  const db = await diskModel(t)
  const s = db.createStream({ wrapper: 'json' })
  const result = outcome(s)
  s.resume()
  s.write(HEADER)
  s.end(INVALID.subarray(0, INVALID.length - 1))
  t.equal(await result, 'SCUTTLEDB_INVALID_FRAME', 'coded error')
  t.deepEqual(await db.toJSON(), {}, 'nothing stored')
})

test('a character split across chunks still decodes intact', async (t) => {
  const db = await diskModel(t)
  const s = db.createStream({ wrapper: 'json' })
  s.resume()
  const line = Buffer.from('[["k","ü☃𝄞"],5,"peer"]\n"SYNC"\n')
  const synced = once(s, 'syncReceived')
  s.write(HEADER)
  for (let i = 0; i < line.length; i++) s.write(line.subarray(i, i + 1))
  await synced
  t.equal(await db.get('k'), 'ü☃𝄞', 'stored as sent')
})
