import { decodeTimestamp, encodeTimestamp } from './timestamp.js'
import type { Clock, Source } from './protocol.js'
import type { Commit, DataSpace, Storage } from './storage.js'

/**
 * What a Model keeps per key: the winning update's stamp, pointing at its
 * entry in the log (the value is stored once, as the exact bytes accepted). A
 * delete's record carries a third element, `0`, so that reads skip the log and
 * a purge can tell it from a value.
 */
export type KeyRecord = [ts: number, source: Source] | [ts: number, source: Source, tombstone: 0]

/** True for the record of a deleted key. */
export function isTombstone (record: KeyRecord): boolean {
  return record.length === 3
}

/**
 * Key of a delete in the expiry index: timestamp first, so the deletes older
 * than a horizon are one range scan from the start; then source and key.
 */
export function expiryKey (ts: number, source: Source, key: string): string {
  return encodeTimestamp(ts) + '\x00' + source + '\x00' + key
}

function parseExpiryKey (entry: string): { ts: number, source: Source, key: string } {
  const cut = entry.indexOf('\x00', 17)
  return { ts: decodeTimestamp(entry.slice(0, 16)), source: entry.slice(17, cut), key: entry.slice(cut + 1) }
}

/** How many index entries one purge pass reads at a time. */
const PAGE = 512

/**
 * Purge deletes older than `horizon` (one commit): remove each one's key
 * record, its log entry and its index entry, and `forget` it. Deletes that are
 * still their source's latest update stay (they back the clock entry; they go
 * once the source writes again), and so do deletes of a key that a pinned update
 * (superseded, its source's latest) still holds in the log; index entries whose delete was superseded are
 * dropped. Scans index entries after `after` (a key from an earlier pass; kept
 * entries are not seen again). Returns how many deletes were forgotten, and the
 * last entry seen when the scan stopped at `limit` entries (`next`), to go on from.
 */
export async function purgeTombstones (
  storage: Storage,
  spaces: { keys: DataSpace, expiry: DataSpace },
  horizon: number,
  clock: Clock,
  pinnedKeys: () => Promise<ReadonlySet<string>>,
  commit: Commit,
  forget: (source: Source, ts: number) => void,
  limit: number,
  after?: string
): Promise<{ purged: number, next: string | undefined }> {
  let purged = 0
  let seen = 0
  const end = encodeTimestamp(horizon)
  const range = after === undefined ? { lt: end } : { gt: after, lt: end }
  for await (const page of storage.iteratePages(spaces.expiry, range, PAGE)) {
    const entries = page.map(([entry]) => ({ entry, ...parseExpiryKey(entry) }))
    const records = await storage.getMany(spaces.keys, entries.map((e) => e.key)) as Array<KeyRecord | undefined>
    // The pins are read only for a page holding a delete that is not its source's latest.
    const pinned = entries.some(({ ts, source }) => clock.get(source) !== ts) ? await pinnedKeys() : undefined
    entries.forEach(({ entry, ts, source, key }, i) => {
      if (clock.get(source) === ts || pinned === undefined) return
      // A superseded update of this key is still in the log (pinned, its source's latest):
      // without the delete, whoever is sent the history would take that value back.
      if (pinned.has(key)) return
      const record = records[i]
      commit.del(spaces.expiry, entry)
      if (record === undefined || !isTombstone(record) || record[0] !== ts || record[1] !== source) return
      commit.del(spaces.keys, key)
      commit.delUpdate(source, ts)
      forget(source, ts)
      purged++
    })
    seen += page.length
    if (seen >= limit) return { purged, next: page[page.length - 1][0] }
  }
  return { purged, next: undefined }
}
