import test from 'tape'
import { call, finish, launch, openPage, serveApp } from './fixtures/browser-pages.js'

// docs/browser.md: "a reload gets its database back", and with a replica per tab
// "every write is committed in its own tab before set() resolves". A tab that
// became the hub on `shared~1` (the first tab closed) writes alone, then reloads:
// the reload takes the free `shared` (slot 0), which never saw the write, and
// nothing ever reads `shared~1` again while one tab is open.
test('a tab left alone on shared~1 writes, then reloads: the write is still there', async (t) => {
  const browser = await launch(t)
  const context = await browser.newContext()
  const url = await serveApp(t)
  const first = await openPage(t, context, url)
  t.equal(await call(first, 'joinTabs', 'shared'), 'shared', 'the first tab holds shared')
  await call(first, 'role', 'hub')
  const second = await openPage(t, context, url)
  t.equal(await call(second, 'joinTabs', 'shared'), 'shared~1', 'the second tab holds shared~1')
  await call(second, 'role', 'member')
  await first.close()
  t.equal(await call(second, 'role', 'hub'), 'hub', 'the second tab is now the only tab, the hub')
  await call(second, 'set', 'note', 'written alone')
  t.equal(await call(second, 'get', 'note'), 'written alone', 'set() resolved: committed in this tab')

  await second.reload()
  await second.waitForFunction(() => 'app' in globalThis)
  const database = await call(second, 'joinTabs', 'shared') as string
  t.comment(`after the reload the tab holds ${database}`)
  t.equal(await call(second, 'get', 'note'), 'written alone', 'the reloaded (only) tab has the write it made before the reload')
  await finish(t, second)
})
