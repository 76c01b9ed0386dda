import test from 'tape'
import { once } from 'node:events'
import { MemoryLevel } from 'memory-level'
import { Events } from '../lib/index.js'
import { captureUncaught, sleep } from './helpers.js'

/** An open Events on a memory-level database the test owns (so it can close the store under it). */
async function eventsOnOwnDb (t: test.Test): Promise<{ events: Events, db: MemoryLevel }> {
  const db = new MemoryLevel()
  const events = new Events({ db })
  await events.open()
  t.teardown(async () => {
    await events.close().catch(() => {})
    await db.close()
  })
  return { events, db }
}

test('Events: a failed emit() commit without a lifecycle error listener is a process warning, not a crash', async (t) => {
  const uncaught = captureUncaught(t)
  const { events, db } = await eventsOnOwnDb(t)
  await db.close()
  const warned = new Promise<Error | undefined>((resolve) => {
    const timer = setTimeout(() => { process.off('warning', onWarning); resolve(undefined) }, 2000)
    function onWarning (warning: Error): void {
      clearTimeout(timer)
      process.off('warning', onWarning)
      resolve(warning)
    }
    process.on('warning', onWarning)
  })
  t.equal(events.emit('x', 1), true, 'emit() returns true')
  const warning = await warned as (Error & { code?: unknown }) | undefined
  t.ok(warning !== undefined, 'a warning was emitted')
  t.equal(warning?.code, 'LEVEL_DATABASE_NOT_OPEN', 'the warning is the coded error of the failed commit')
  await sleep(20)
  t.deepEqual(uncaught, [], 'nothing was thrown')
})

test('Events: a failed emit() commit goes to a lifecycle error listener when there is one', async (t) => {
  const uncaught = captureUncaught(t)
  const { events, db } = await eventsOnOwnDb(t)
  await db.close()
  const heard = once(events.lifecycle, 'error')
  events.emit('x', 1)
  const [err] = await heard as [Error & { code?: unknown }]
  t.equal(err.code, 'LEVEL_DATABASE_NOT_OPEN', 'the listener gets the coded error')
  await sleep(20)
  t.deepEqual(uncaught, [], 'nothing was thrown')
})
