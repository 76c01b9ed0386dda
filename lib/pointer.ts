import { unpack } from './msgpack.js'
import type { Source, Update } from './protocol.js'
import type { DataSpace, Storage } from './storage.js'
import { expiryKey } from './tombstones.js'

/**
 * A data type's record of the winning update for one of its keys: the update's
 * stamp, which is its key in the log. The value lives only in the log, as the
 * exact bytes that were accepted, so what a node reads and what it replicates
 * can never differ.
 */
export type Pointer = [ts: number, source: Source]

/**
 * Rewrite format-1 records `[ts, source, value]` (a second, re-encoded copy of
 * the value) as pointers, one atomic batch per page. Records already rewritten
 * are left alone, so it can run again after a crash; a record whose update is
 * no longer in the log (quarantined by the upgrade) is removed. With `expiry`
 * (a Model), a delete's record becomes `[ts, source, 0]` and is indexed there;
 * the log entry, not the record, tells a delete from a value, so a rerun after a
 * crash converts each record the same way.
 */
export async function upgradePointers (storage: Storage, space: DataSpace, expiry?: DataSpace): Promise<void> {
  for await (const page of storage.iteratePages(space, {}, 1024)) {
    const old = page.filter(([, record]) => Array.isArray(record) && record.length > 2) as Array<[string, [number, Source, unknown]]>
    if (old.length === 0) continue
    const held = await storage.readUpdates(old.map(([, record]) => [record[0], record[1]]))
    const puts: Array<[string, unknown]> = []
    const dels: string[] = []
    const indexed: Array<[string, unknown]> = []
    old.forEach(([key, record], i) => {
      const bytes = held[i]
      if (bytes === undefined) {
        dels.push(key)
      } else if (expiry !== undefined && ((unpack(bytes) as Update<[string, unknown]>)[0])[1] === null) {
        puts.push([key, [record[0], record[1], 0]])
        indexed.push([expiryKey(record[0], record[1], key), 0])
      } else {
        puts.push([key, [record[0], record[1]]])
      }
    })
    await storage.rewrite(space, puts, dels, expiry === undefined ? undefined : [expiry, indexed])
  }
}
