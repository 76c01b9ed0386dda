import { codes, error, type ScuttledbError } from './errors.js'
import { unpack } from './msgpack.js'
import { parseUpdate, type Update } from './protocol.js'
import type { LogEntry, Storage } from './storage.js'

/**
 * Upgrade a database written by an older format in place. Every step is
 * idempotent and commits in atomic batches, and the format is recorded only at
 * the end, so a crash at any point is followed by the same upgrade at the next
 * open, which finishes it.
 *
 * 1. Quarantine stored updates that cannot be replicated (0.1.0 accepted
 *    values outside the value domain, e.g. `['f', undefined]`): they move to the
 *    `quarantine` sublevel, each reported through `report`, and everything else
 *    replicates.
 * 2. Let the data type rewrite its records (`dataType`).
 * 3. Record the current format.
 */
export async function upgradeStorage (
  storage: Storage,
  from: number,
  dataType: (storage: Storage, from: number) => Promise<void>,
  report: (err: ScuttledbError) => void
): Promise<void> {
  for await (const entries of storage.logEntries()) {
    const bad: LogEntry[] = []
    for (const entry of entries) {
      const problem = storedProblem(entry)
      if (problem !== undefined) {
        bad.push(entry)
        report(problem)
      }
    }
    if (bad.length > 0) await storage.quarantine(bad)
  }
  await dataType(storage, from)
  await storage.setFormat()
}

/** Why a stored update cannot be replicated, or undefined when it can. */
function storedProblem (entry: LogEntry): ScuttledbError | undefined {
  let decoded: unknown
  try {
    decoded = unpack(entry.bytes)
  } catch (err) {
    return error(codes.INVALID_VALUE, `The stored update ${entry.source}@${entry.ts} is not valid msgpack; quarantined`, { cause: err as Error })
  }
  let update: Update
  try {
    update = parseUpdate(decoded)
  } catch (err) {
    return error(codes.INVALID_VALUE, `The stored update ${entry.source}@${entry.ts} cannot be replicated (${(err as Error).message}); quarantined`, { cause: err as Error, update: decoded })
  }
  if (update[1] !== entry.ts || update[2] !== entry.source) {
    return error(codes.INVALID_VALUE, `The stored update ${entry.source}@${entry.ts} does not match its key; quarantined`, { update })
  }
  return undefined
}
