import test from 'tape'
import { readFile } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { Model, listenWebSocket } from '../lib/index.js'
import { bundle, copyInto, installPacked, nodeImports, servePage } from './fixtures/browser-build.js'
import { call, finish, launch, nodeAt, nodeValue, openPage, pageScript, waitBytes } from './fixtures/browser-pages.js'
import { tempDir } from './helpers.js'

test('a Chromium page and a Node node sync both ways over WebSocket; a reload keeps the data in IndexedDB and the next sync sends only what is new', async (t) => {
  const browser = await launch(t)
  const node = await nodeAt(t, await tempDir(t))
  await node.model.set('fromNode', 1)
  const page = await openPage(t, browser)
  await call(page, 'open', 'db-both-ways')
  await call(page, 'set', 'fromPage', 'hello')
  await call(page, 'setBytes', 'bin', [0, 1, 2, 255])
  await call(page, 'connect', node.server.address.url, 50, 200)
  const first = await call(page, 'synced', 1)
  t.deepEqual(first, { sent: 2, received: 1 }, 'the first sync sends the page\'s two updates and receives the node\'s one')
  t.equal(await call(page, 'get', 'fromNode'), 1, 'the page has the node\'s value')
  await node.model.set('nodeBin', Buffer.from([9, 8, 7]))
  const [wireBytes, wire, wireKind] = await waitBytes(page, 'nodeBin')
  t.deepEqual([wireBytes, wire], [true, [9, 8, 7]], `binary from the node reads back in the page as a Uint8Array of its bytes (a ${wireKind as string})`)
  t.equal(await nodeValue(node.model, 'fromPage', 'hello'), 'hello', 'the node has the page\'s value')
  t.deepEqual([...(await node.model.get('bin')) as Uint8Array], [0, 1, 2, 255], 'binary from the page arrives as its bytes')
  await node.model.set('live', 'yes')
  t.equal(await call(page, 'valueOf', 'live', 'yes'), 'yes', 'a live update reaches the page')
  await call(page, 'set', 'livePage', 'too')
  t.equal(await nodeValue(node.model, 'livePage', 'too'), 'too', 'a live update reaches the node')

  await page.reload()
  await page.waitForFunction(() => 'app' in globalThis)
  await call(page, 'open', 'db-both-ways')
  t.equal(await call(page, 'get', 'fromNode'), 1, 'after a reload, the synced value is read from IndexedDB')
  t.equal(await call(page, 'get', 'live'), 'yes', 'and the live one')
  const [isBytes, bytes, kind] = await call(page, 'getBytes', 'bin')
  t.deepEqual([isBytes, bytes], [true, [0, 1, 2, 255]], `binary reads back as a Uint8Array of its bytes (a ${kind as string})`)
  await node.model.set('whileAway', 2)
  await call(page, 'set', 'afterReload', 3)
  await call(page, 'connect', node.server.address.url, 50, 200)
  t.deepEqual(await call(page, 'synced', 1), { sent: 1, received: 1 }, 'the next sync sends and receives only the one new update each way')
  t.equal(await call(page, 'get', 'whileAway'), 2, 'the page has what the node wrote meanwhile')
  t.equal(await nodeValue(node.model, 'afterReload', 3), 3, 'the node has what the page wrote offline')
  await finish(t, page)
})

test('the browser client reconnects after the Node node restarts, with its backoff', async (t) => {
  const browser = await launch(t)
  const dir = await tempDir(t)
  const node = await nodeAt(t, dir)
  const port = node.server.address.port
  const page = await openPage(t, browser)
  await call(page, 'open', 'db-restart')
  await call(page, 'connect', node.server.address.url, 50, 200)
  await call(page, 'synced', 1)
  await node.stop()
  await call(page, 'disconnected')
  await call(page, 'set', 'whileDown', 'queued')
  // Written before it listens, so the reconnect's sync carries it (not a live update after).
  const again = await nodeAt(t, dir, port, async (model) => { await model.set('afterRestart', 'back') })
  t.deepEqual(await call(page, 'synced', 2), { sent: 1, received: 1 }, 'reconnected and synced only what is new')
  t.equal(await call(page, 'get', 'afterRestart'), 'back', 'the page has the restarted node\'s write')
  t.equal(await nodeValue(again.model, 'whileDown', 'queued'), 'queued', 'the node has the page\'s write made while it was down')
  const states: string[] = await call(page, 'states')
  t.deepEqual(states.slice(0, 3), ['connecting', 'connected', 'synced'], 'state events in order')
  t.ok(states.some((state) => state.startsWith('disconnected')), 'a disconnected event when the node went away')
  await finish(t, page)
})

test('the browser client dials at once when the browser comes back online, without waiting out its backoff', async (t) => {
  const browser = await launch(t)
  const dir = await tempDir(t)
  const node = await nodeAt(t, dir)
  const port = node.server.address.port
  const page = await openPage(t, browser)
  await call(page, 'open', 'db-online')
  // A minute between attempts: only the online event can make the next one happen within the test.
  await call(page, 'connect', node.server.address.url, 60_000, 60_000)
  await call(page, 'synced', 1)
  await node.stop()
  await call(page, 'disconnected')
  await nodeAt(t, dir, port)
  await page.evaluate(() => { (globalThis as any).dispatchEvent(new Event('online')) })
  t.ok(await call(page, 'synced', 2), 'synced again after the online event')
  await finish(t, page)
})

test('a Chromium page replicates several documents over one WebSocket (multiplexed) with a Node node', async (t) => {
  const browser = await launch(t)
  const a = new Model({ db: await tempDir(t) })
  const b = new Model({ db: await tempDir(t) })
  await a.open()
  await b.open()
  t.teardown(async () => { await a.close(); await b.close() })
  const server = await listenWebSocket({ docs: { a, b } })
  t.teardown(async () => { await server.close() })
  await a.set('inA', 'node')
  const page = await openPage(t, browser)
  await call(page, 'openDoc', 'a')
  await call(page, 'openDoc', 'b')
  await call(page, 'setIn', 'b', 'inB', 'page')
  await call(page, 'connect', server.address.url, 50, 200, true)
  await call(page, 'synced', 1)
  t.equal(await call(page, 'getIn', 'a', 'inA'), 'node', 'document a reached the page')
  t.equal(await nodeValue(b, 'inB', 'page'), 'page', 'document b reached the node')
  t.equal(await call(page, 'getIn', 'b', 'inA'), undefined, 'documents stay apart')
  await finish(t, page)
})

test('a large sync from the page waits on bufferedAmount and arrives whole', async (t) => {
  const browser = await launch(t)
  const node = await nodeAt(t, await tempDir(t))
  const page = await openPage(t, browser)
  await call(page, 'open', 'db-large')
  // 4 MiB of values against a 64 KiB bufferedAmount limit: most writes wait for the socket to drain.
  await call(page, 'fill', 128, 32 * 1024)
  await call(page, 'connect', node.server.address.url, 50, 200, false, 64 * 1024)
  t.deepEqual(await call(page, 'synced', 1), { sent: 128, received: 0 }, 'all 128 updates sent in the sync')
  const last = await nodeValue(node.model, 'k127', 127) as number
  t.equal(last, 127, 'the last one arrived')
  let count = 0
  for await (const _ of node.model.keys()) count++
  t.equal(count, 128, 'the node holds every key')
  await finish(t, page)
})

test('the browser example (examples/browser) syncs with a Node node and shows its entries', async (t) => {
  const browser = await launch(t)
  const node = await nodeAt(t, await tempDir(t), 0, async (model) => { await model.set('greeting', 'hello') })
  const examples = resolve(import.meta.dirname, '..', '..', 'examples', 'browser')
  const app = await installPacked(await tempDir(t, 'scuttledb-example-'))
  const out = await bundle(app, await copyInto(app, join(examples, 'app.js')))
  const { url, server } = await servePage(out.text, await readFile(join(examples, 'index.html'), 'utf8'))
  t.teardown(() => { server.close() })
  const page = await browser.newPage()
  await page.goto(`${url}?peer=${encodeURIComponent(node.server.address.url)}`)
  await page.waitForFunction(() => (globalThis as any).document.getElementById('status').textContent.startsWith('synced'), undefined, { timeout: 20_000 })
  await page.waitForFunction(() => (globalThis as any).document.getElementById('entries').textContent.includes('hello'), undefined, { timeout: 20_000 })
  t.pass('the page synced and lists the node\'s entry')
  await page.fill('#key', 'fromExample')
  await page.fill('#value', 'hi')
  await page.click('button')
  t.equal(await nodeValue(node.model, 'fromExample', 'hi'), 'hi', 'an entry set in the page reaches the node')
})

test('the page bundle names no node: module', async (t) => {
  t.deepEqual(nodeImports(await pageScript(t)), [], 'no node: imports')
})
