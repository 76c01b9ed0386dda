// One instance per database in a process. Two instances on one database (the same
// abstract-level object, or two sublevel objects with one prefix) would share an id
// while keeping two clocks and two pipelines: their commits interleave, each issues
// timestamps the other also issues, and acknowledged writes are lost. classic-level's
// lock refuses a second open of one directory; nothing refuses a shared object, so
// Storage.open claims it here. A claim is released when that Storage closes.
import { codes, error } from './errors.js'

/** Per root database object, the prefixes (sublevels) an open Storage holds. */
const held = new WeakMap<object, Set<string>>()

/** The root object and the prefix of an abstract-level database or sublevel. */
function placeOf (db: object): { root: object, prefix: string } {
  const { db: root, prefix } = db as { db?: unknown, prefix?: unknown }
  return {
    root: typeof root === 'object' && root !== null ? root : db,
    prefix: typeof prefix === 'string' ? prefix : ''
  }
}

/** Claim `db` for one Storage; throws SCUTTLEDB_DATABASE_LOCKED when an open one holds it. Returns the release. */
export function claimDatabase (db: object): () => void {
  const { root, prefix } = placeOf(db)
  let prefixes = held.get(root)
  if (prefixes === undefined) {
    prefixes = new Set()
    held.set(root, prefixes)
  }
  if (prefixes.has(prefix)) {
    throw error(codes.DATABASE_LOCKED, `Another open instance uses this database${prefix === '' ? '' : ` (sublevel ${prefix})`}: close it first, or give each instance its own sublevel`)
  }
  prefixes.add(prefix)
  let released = false
  return () => {
    if (released) return
    released = true
    prefixes.delete(prefix)
  }
}

/** The directories open Storages hold in this process, by canonical path. */
const heldDirectories = new Set<string>()

interface NodeFs { realpathSync: { native: (path: string) => string } }
interface NodePath { resolve: (path: string) => string, dirname: (path: string) => string, basename: (path: string) => string, join: (...paths: string[]) => string }

/**
 * A directory's canonical path: absolute, with `.`, `..`, trailing slashes and the
 * symbolic links of its existing part resolved (classic-level creates a missing
 * directory), so every spelling of one directory is one claim. Node's modules are
 * reached through process.getBuiltinModule (Node 20.16+), never imported, so the
 * browser build stays free of them; undefined where they cannot be reached.
 */
function canonicalDirectory (location: string): string | undefined {
  const builtin = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process?.getBuiltinModule
  if (typeof builtin !== 'function') return undefined
  const fs = builtin('fs') as NodeFs
  const path = builtin('path') as NodePath
  const rest: string[] = []
  for (let dir = path.resolve(location); ; dir = path.dirname(dir)) {
    try {
      return path.join(fs.realpathSync.native(dir), ...rest.reverse())
    } catch {
      if (path.dirname(dir) === dir) return path.resolve(location)
      rest.push(path.basename(dir))
    }
  }
}

/**
 * Claim a classic-level directory in this process, before its Level is made (an
 * abstract-level database opens itself a tick after it is made). LevelDB's own lock
 * compares the path as spelled: a second open of `data` while `./data` was open passed
 * it, and that open's recovery deleted the first one's log file, so every write the
 * first made after it was lost at close. Another process is refused by the lock itself.
 */
export function claimDirectory (location: string): () => void {
  const key = canonicalDirectory(location)
  if (key === undefined) return () => {}
  if (heldDirectories.has(key)) {
    throw error(codes.DATABASE_LOCKED, `The database at ${location} is open in another instance (as ${key}): close it first`)
  }
  heldDirectories.add(key)
  let released = false
  return () => {
    if (released) return
    released = true
    heldDirectories.delete(key)
  }
}

interface WebLocks {
  request: (name: string, options: { ifAvailable: boolean }, callback: (lock: unknown) => Promise<void>) => Promise<unknown>
}

/**
 * Claim the database a path names when nothing else locks it: browser-level
 * (IndexedDB), which every tab, frame and worker of an origin shares, is claimed by a
 * Web Lock named after it, held until the returned release is called. Throws
 * SCUTTLEDB_DATABASE_LOCKED when another open instance (in any tab) holds it. A
 * database with a lock of its own (classic-level's directory lock), or a place without
 * Web Locks, is not claimed here.
 */
export async function claimLocation (db: object, location: string): Promise<() => void> {
  if ((db as { type?: unknown }).type !== 'browser-level') return () => {}
  const locks = (globalThis as { navigator?: { locks?: WebLocks } }).navigator?.locks
  if (locks === undefined || typeof locks.request !== 'function') return () => {}
  const release = await new Promise<(() => void) | undefined>((resolve, reject) => {
    locks.request(`scuttledb:database:${location}`, { ifAvailable: true }, async (lock) => {
      if (lock === null) {
        resolve(undefined)
        return
      }
      await new Promise<void>((done) => { resolve(done) })
    }).catch(reject)
  })
  if (release === undefined) {
    throw error(codes.DATABASE_LOCKED, `The database ${location} is open in another instance (in this tab or another of this origin): close it first, or give each tab its own (joinTabs)`)
  }
  return release
}
