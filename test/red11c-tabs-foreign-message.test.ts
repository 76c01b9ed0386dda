import test from 'tape'
import type { Page } from 'playwright-core'
import { call, finish, launch, openPage, serveApp } from './fixtures/browser-pages.js'

// The promise: a malformed message or hostile peer ends that one stream, "everything
// else goes on", and "every update eventually reaches every connected peer". A
// tab's replication with the hub runs over a BroadcastChannel any script of the
// origin can post on; one message the pair did not send (a stale tab, another app or
// version on the origin) ends the pair, and the member never replicates again: it
// keeps the hub as "joined" and ignores the hub's announcements from then on.

/** `expected` at `key` in the page within 20 s, or what the page threw (a clear failure, not a hang). */
async function seen (page: Page, key: string, expected: unknown): Promise<unknown> {
  try {
    return await call(page, 'valueOf', key, expected)
  } catch (err) {
    return `not seen: ${String((err as Error).message).split('\n')[0] as string}`
  }
}

test('a foreign message on a tab pair\'s channel ends that pair, and the member replicates with the hub again', async (t) => {
  const browser = await launch(t)
  const context = await browser.newContext()
  const url = await serveApp(t)
  const hub = await openPage(t, context, url)
  await call(hub, 'joinTabs', 'shared')
  await call(hub, 'role', 'hub')
  const member = await openPage(t, context, url)
  await call(member, 'joinTabs', 'shared')
  await call(member, 'role', 'member')
  await call(hub, 'set', 'before', 1)
  t.equal(await seen(member, 'before', 1), 1, 'the member sees the hub\'s write')

  const stranger = await openPage(t, context, url)
  const pair = `scuttledb:shared:pair:${await call(member, 'tab') as string}:${await call(hub, 'tab') as string}`
  await stranger.evaluate((name) => { const channel = new BroadcastChannel(name); channel.postMessage('not a frame'); channel.close() }, pair)

  await call(hub, 'set', 'after', 2)
  await call(member, 'set', 'fromMember', 3)
  t.equal(await seen(member, 'after', 2), 2, 'the member sees the hub\'s write made after the foreign message')
  t.equal(await seen(hub, 'fromMember', 3), 3, 'the hub sees the member\'s write made after it')
  await finish(t, member)
  await finish(t, hub)
})

test('a group announcement naming no tab as the hub does not cut the members off the real hub for good', async (t) => {
  const browser = await launch(t)
  const context = await browser.newContext()
  const url = await serveApp(t)
  const hub = await openPage(t, context, url)
  await call(hub, 'joinTabs', 'shared')
  await call(hub, 'role', 'hub')
  const member = await openPage(t, context, url)
  await call(member, 'joinTabs', 'shared')
  await call(member, 'role', 'member')
  await call(hub, 'set', 'before', 1)
  t.equal(await seen(member, 'before', 1), 1, 'the member sees the hub\'s write')

  const stranger = await openPage(t, context, url)
  await stranger.evaluate(() => { const channel = new BroadcastChannel('scuttledb:shared'); channel.postMessage({ hub: 'no-such-tab' }); channel.close() })

  await call(hub, 'set', 'after', 2)
  t.equal(await seen(member, 'after', 2), 2, 'the member sees the hub\'s write made after the stray announcement')
  await finish(t, member)
  await finish(t, hub)
})
