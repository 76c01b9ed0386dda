import { rm, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { Level } from 'level'
import { codes, error } from './errors.js'

/**
 * Delete a database that was opened by path (`new Model({ db: path })`), with
 * every document in it. Refuses a directory that is not a LevelDB database and
 * one that is open (in this process or another: LevelDB's lock). Node only.
 */
export async function destroy (location: string): Promise<void> {
  if (typeof location !== 'string' || location === '') throw new TypeError('location must be a directory path')
  try {
    await stat(join(location, 'CURRENT'))
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      // Nothing there, or not a database: never delete a directory that is not one.
      try {
        await stat(location)
      } catch {
        return
      }
      throw error(codes.NOT_A_DATABASE, `${location} is not a LevelDB database; not deleted`)
    }
    throw err
  }
  // Opening takes LevelDB's lock: it fails while anyone holds the database open.
  const db = new Level(location, { createIfMissing: false })
  try {
    await db.open()
  } catch (err) {
    throw error(codes.DATABASE_LOCKED, `${location} is open (or unreadable); close it first`, { cause: err as Error })
  }
  await db.close()
  await rm(location, { recursive: true, force: true })
}
