import type { Source } from './protocol.js'
import type { DataSpace, Storage } from './storage.js'

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
 * no longer in the log (quarantined by the upgrade) is removed.
 */
export async function upgradePointers (storage: Storage, space: DataSpace): Promise<void> {
  for await (const page of storage.iteratePages(space, {}, 1024)) {
    const old = page.filter(([, record]) => Array.isArray(record) && record.length > 2) as Array<[string, [number, Source, unknown]]>
    if (old.length === 0) continue
    const held = await storage.readUpdates(old.map(([, record]) => [record[0], record[1]]))
    const puts: Array<[string, Pointer]> = []
    const dels: string[] = []
    old.forEach(([key, record], i) => {
      if (held[i] === undefined) dels.push(key)
      else puts.push([key, [record[0], record[1]]])
    })
    await storage.rewrite(space, puts, dels)
  }
}
