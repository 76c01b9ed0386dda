import test from 'tape'
import { call, finish, launch, openPage, serveApp } from './fixtures/browser-pages.js'

// README (`db` option): "One open instance per database: a second open() on the same
// path, object or sublevel is refused with SCUTTLEDB_DATABASE_LOCKED until the first
// has closed" (two instances "would write as one id with two clocks and lose writes").
// On Node classic-level's lock refuses it; in a browser a path names an IndexedDB
// database, which nothing locks: a second tab (the usual way an app is opened twice)
// opens the same database under the same id.
test('a second tab opening new Model({ db: name }) on a database another tab holds open is refused with SCUTTLEDB_DATABASE_LOCKED', async (t) => {
  const browser = await launch(t)
  const context = await browser.newContext()
  const url = await serveApp(t)
  const first = await openPage(t, context, url)
  await call(first, 'open', 'twice')
  await call(first, 'set', 'fromFirst', 1)
  const second = await openPage(t, context, url)
  const outcome = await second.evaluate(async () => {
    try {
      await (globalThis as any).app.open('twice')
      return 'opened'
    } catch (err) {
      return (err as { code?: string }).code ?? String(err)
    }
  })
  t.equal(outcome, 'SCUTTLEDB_DATABASE_LOCKED', 'the second tab\'s open() is refused')
  await finish(t, first)
  // Closed by the first tab: the database is free again.
  const third = await openPage(t, context, url)
  await call(third, 'open', 'twice')
  t.equal(await call(third, 'get', 'fromFirst'), 1, 'once the first tab closed it, a tab opens it with what it held')
  await finish(t, third)
})
