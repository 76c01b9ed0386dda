import test from 'tape'
import { call, finish, launch, openPage, serveApp } from './fixtures/browser-pages.js'

// docs/browser.md (joinTabs): "A joining tab first replicates in every replica no
// open tab holds (`indexedDB.databases()` lists them)"; lib/net/tabs.ts: "Only
// databases that exist are opened". The replicas are found by a name that ends with
// `-${database}`, so another group's `my-notes~1` (IndexedDB `level-js-my-notes~1`)
// counts as this group's `notes~1`: joinTabs('notes') opens, and so creates, a
// `notes~1` that never existed (and opens it on every join from then on). Now the
// replicas are matched by their exact IndexedDB name (options.indexedDBPrefix, default
// browser-level's 'level-js-').
test('joinTabs("notes") opens no replica of another group named my-notes', async (t) => {
  const browser = await launch(t)
  const context = await browser.newContext()
  const url = await serveApp(t)
  const page = await openPage(t, context, url)
  await call(page, 'open', 'my-notes~1')
  await call(page, 'set', 'mine', 1)
  await call(page, 'close')
  t.equal(await call(page, 'joinTabs', 'notes'), 'notes', 'the tab holds notes')
  const names = await page.evaluate(async () => {
    const idb = (globalThis as unknown as { indexedDB: { databases: () => Promise<Array<{ name?: string }>> } }).indexedDB
    return (await idb.databases()).map((info) => info.name ?? '').sort()
  })
  t.comment(`databases: ${names.join(', ')}`)
  t.notOk(names.includes('level-js-notes~1'), 'no database notes~1 was made by joining notes')
  t.equal(await call(page, 'get', 'mine'), undefined, 'and the other group\'s data is not in this group')
  await finish(t, page)
})
