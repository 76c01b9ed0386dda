import test from 'tape'
import { MemoryLevel } from 'memory-level'
import { Model, joinTabs, type TabChannelConstructor, type TabGroup, type TabLocks } from '../lib/index.js'

// joinTabs on Node, fast and with coverage: Node's own BroadcastChannel, and Web Locks
// from a small in-process stand-in (Node has no navigator.locks). Chromium runs the
// real thing in test/browser-tabs.test.ts.

/** Exclusive Web Locks within one process: requests queue per name; ifAvailable and signal as specified. */
function fakeLocks (): TabLocks {
  const queues = new Map<string, Array<() => void>>()
  const held = new Set<string>()
  const grant = (name: string): void => {
    if (held.has(name)) return
    const next = queues.get(name)?.shift()
    if (next !== undefined) next()
  }
  return {
    request: async (name, options, callback) => {
      if (options.ifAvailable === true && (held.has(name) || (queues.get(name)?.length ?? 0) > 0)) return await callback(null)
      return await new Promise((resolve, reject) => {
        const run = (): void => {
          options.signal?.removeEventListener('abort', abort)
          held.add(name)
          callback({ name }).then(resolve, reject).finally(() => { held.delete(name); grant(name) })
        }
        const abort = (): void => {
          const queue = queues.get(name) ?? []
          if (queue.includes(run)) queue.splice(queue.indexOf(run), 1)
          reject(new Error('AbortError'))
        }
        if (options.signal?.aborted === true) { abort(); return }
        options.signal?.addEventListener('abort', abort)
        queues.set(name, [...(queues.get(name) ?? []), run])
        grant(name)
      })
    }
  }
}

const Channel = BroadcastChannel as unknown as TabChannelConstructor
/** A `create` for joinTabs: one memory database per name, kept across tabs as IndexedDB keeps them. */
function memoryOrigin (): (name: string) => Model {
  const databases = new Map<string, MemoryLevel<string, Uint8Array>>()
  return (name) => {
    if (!databases.has(name)) databases.set(name, new MemoryLevel({ keyEncoding: 'utf8', valueEncoding: 'view' }))
    return new Model({ db: databases.get(name) as never })
  }
}

async function until (what: () => boolean | Promise<boolean>): Promise<boolean> {
  for (let i = 0; i < 400; i++) {
    if (await what()) return true
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
  return false
}

test('joinTabs: a database per tab, one hub, writes reach every tab, the hub hands over when it closes, a tab too many is refused', async (t) => {
  const locks = fakeLocks()
  const create = memoryOrigin()
  const options = { locks, BroadcastChannel: Channel, maxTabs: 2 }
  const tabs: Array<TabGroup<Model>> = []
  t.teardown(async () => { for (const tab of tabs) await tab.close() })
  const a = await joinTabs('node-tabs', create, options)
  tabs.push(a)
  t.equal(a.role, 'hub', 'the first tab is the hub when joinTabs resolves')
  const b = await joinTabs('node-tabs', create, options)
  tabs.push(b)
  t.deepEqual([a.database, b.database, b.role], ['node-tabs', 'node-tabs~1', 'member'], 'the second tab holds its own database, as a member')
  try {
    await joinTabs('node-tabs', create, options)
    t.fail('a third tab joined')
  } catch (err) {
    t.equal((err as { code?: string }).code, 'SCUTTLEDB_DATABASE_LOCKED', 'a tab beyond maxTabs is refused, coded')
  }
  await a.instance.set('x', 1)
  await b.instance.set('y', 2)
  t.ok(await until(async () => await b.instance.get('x') === 1 && await a.instance.get('y') === 2), 'each tab sees the other\'s write')
  const roles: string[] = []
  b.on('role', (role) => { roles.push(role) })
  await a.close()
  t.ok(await until(() => b.role === 'hub'), 'the member became the hub when the hub closed')
  t.deepEqual(roles, ['hub'], 'with one role event')
  const c = await joinTabs('node-tabs', create, options)
  tabs.push(c)
  t.equal(c.database, 'node-tabs', 'a new tab takes the freed database')
  await b.instance.set('z', 3)
  t.ok(await until(async () => await c.instance.get('z') === 3), 'and replicates with the new hub')
  await c.close()
  await c.close()
  t.pass('close() twice is fine')
})

test('joinTabs refuses bad arguments with a TypeError, and missing Web Locks or BroadcastChannel too', async (t) => {
  const locks = fakeLocks()
  const create = memoryOrigin()
  for (const [args, what] of [
    [['', create, { locks, BroadcastChannel: Channel }], 'an empty name'],
    [['n', 'create', { locks, BroadcastChannel: Channel }], 'create not a function'],
    [['n', create, { locks, BroadcastChannel: Channel, maxTabs: 0 }], 'maxTabs 0'],
    [['n', create, { BroadcastChannel: Channel }], 'no Web Locks'],
    [['n', create, { locks, BroadcastChannel: 1 }], 'no BroadcastChannel']
  ] as const) {
    try {
      await (joinTabs as (...a: unknown[]) => Promise<unknown>)(...args)
      t.fail(`${what} accepted`)
    } catch (err) {
      t.ok(err instanceof TypeError, `${what}: TypeError`)
    }
  }
})
