import { stat } from 'node:fs/promises'
import { join } from 'node:path'
import { Level } from 'level'
import { codes, error } from './errors.js'
import { claimDirectory } from './storage-claims.js'

/** On Node, `level`'s Level is classic-level's ClassicLevel; its types (shared with browser-level) omit this. */
interface ClassicLevelStatics {
  destroy: (location: string) => Promise<void>
}

/**
 * Delete a database that was opened by path (`new Model({ db: path })`), with
 * every document in it. Refuses a directory that is not a LevelDB database and
 * one that is open (in this process or another: LevelDB's lock). Only LevelDB's
 * own files go (LevelDB's DestroyDB): a database made in a directory that holds
 * other files (`db: '.'`) leaves them, and the directory, in place. Node only.
 */
export async function destroy (location: string): Promise<void> {
  if (typeof location !== 'string' || location === '') throw new TypeError('location must be a directory path')
  // LevelDB's lock compares the path as spelled: an instance of this process holding
  // the directory under another spelling is found by its canonical path (storage-claims).
  const release = claimDirectory(location)
  try {
    await destroyUnclaimed(location)
  } finally {
    release()
  }
}

async function destroyUnclaimed (location: string): Promise<void> {
  try {
    await stat(join(location, 'CURRENT'))
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (code === 'ENOENT' || code === 'ENOTDIR') {
      // Nothing there, or not a database (a directory without CURRENT, or a file):
      // never delete what is not one.
      try {
        await stat(location)
      } catch {
        return
      }
      throw error(codes.NOT_A_DATABASE, `${location} is not a LevelDB database; not deleted`)
    }
    throw err
  }
  // DestroyDB takes LevelDB's lock first: it fails while anyone holds the database open.
  // A recursive rm would also take every other file of the directory with it.
  try {
    await (Level as unknown as ClassicLevelStatics).destroy(location)
  } catch (err) {
    throw error(codes.DATABASE_LOCKED, `${location} is open (or unreadable); close it first`, { cause: err as Error })
  }
}
