import test from 'tape'
import { join } from 'node:path'
import { Model, joinTabs, type TabChannel, type TabLocks } from '../lib/index.js'
import { tempDir } from './helpers.js'

// No bad input leaks "listeners, timers, streams or file handles". joinTabs opens
// the tab's instance, then builds the group; when building it fails, joinTabs frees
// the slot but leaves the instance open: its database stays locked, so every later
// joinTabs (the app retrying) takes the same slot and is refused.

/** Web Locks for one process: exclusive, granted in order, `ifAvailable` and `signal` as navigator.locks. */
function processLocks (): TabLocks {
  const queues = new Map<string, Array<() => void>>()
  return {
    async request (name, options, callback) {
      const queue = queues.get(name) ?? []
      queues.set(name, queue)
      if (queue.length > 0 && options.ifAvailable === true) return await callback(null)
      await new Promise<void>((resolve, reject) => {
        queue.push(resolve)
        if (queue.length === 1) resolve()
        options.signal?.addEventListener('abort', () => { reject(options.signal?.reason) })
      })
      try {
        return await callback({ name })
      } finally {
        queue.shift()
        queue[0]?.()
      }
    }
  }
}

test('joinTabs whose group cannot be built closes the instance it opened: a retry can open the database', async (t) => {
  const dir = await tempDir(t, 'scuttledb-red11c-')
  const locks = processLocks()
  const opened: Model[] = []
  const create = (database: string): Model => {
    const model = new Model({ db: join(dir, database) })
    opened.push(model)
    return model
  }
  class Refusing implements TabChannel {
    constructor () { throw new Error('no channel here') }
    postMessage (): void {}
    close (): void {}
  }
  const failed = await joinTabs('notes', create, { locks, BroadcastChannel: Refusing }).then(() => 'joined', (err: Error) => err.message)
  t.equal(failed, 'no channel here', 'joinTabs rejects with the channel\'s error')
  t.equal(opened.length, 1, 'it had opened one instance')
  t.equal(opened[0]?.status, 'closed', 'and closed it again')

  const group = await joinTabs('notes', create, { locks, BroadcastChannel: globalThis.BroadcastChannel as never }).catch((err: { code?: string }) => err)
  t.equal((group as { code?: string }).code, undefined, 'a retry joins, not refused')
  if ('database' in group) {
    t.equal(group.database, 'notes', 'on the database the first attempt had taken')
    await group.close()
  }
  for (const model of opened) await model.close()
})
