import test from 'tape'
import { once } from 'node:events'
import { Model, authenticate, generateKeys, listenWebSocket, securityOptions } from '../lib/index.js'
import { call, finish, launch, nodeValue, openPage } from './fixtures/browser-pages.js'
import { tempDir } from './helpers.js'

test('a signed Chromium peer authenticates to a node with a writers\' allow-list and writes to it; its key stays in IndexedDB; an unlisted key is refused, coded', async (t) => {
  const browser = await launch(t)
  const page = await openPage(t, browser)
  const pageId: string = await call(page, 'openSigned', 'db-signed', 'keys-listed')

  const nodeKeys = generateKeys()
  const model = new Model({ db: await tempDir(t), ...securityOptions(nodeKeys), writers: [nodeKeys.id, pageId] })
  await model.open()
  t.teardown(async () => { await model.close() })
  await model.set('fromNode', 'signed too')
  const server = await listenWebSocket(model, { handshake: authenticate({ keys: nodeKeys, allow: [pageId] }) })
  t.teardown(async () => { await server.close() })

  await call(page, 'set', 'fromPage', 'hello')
  await call(page, 'authenticate', nodeKeys.id)
  await call(page, 'connect', server.address.url, 50, 200)
  await call(page, 'synced', 1)
  t.equal(await nodeValue(model, 'fromPage', 'hello'), 'hello', 'the node verified and stored the page\'s signed write')
  t.equal(await call(page, 'get', 'fromNode'), 'signed too', 'the page verified the node\'s')
  t.equal(model.stats.rejected, 0, 'the node rejected nothing')
  await finish(t, page)

  await page.reload()
  await page.waitForFunction(() => 'app' in globalThis)
  t.equal(await call(page, 'openSigned', 'db-signed', 'keys-listed'), pageId, 'after a reload the page has the same key pair, from IndexedDB')
  await call(page, 'close')

  const stranger = await openPage(t, browser)
  const strangerId: string = await call(stranger, 'openSigned', 'db-stranger', 'keys-unlisted')
  t.notEqual(strangerId, pageId, 'another key store, another key')
  const refusedOnNode = once(server, 'disconnect') as Promise<[unknown, { code?: string, cause?: { code?: string } }]>
  await call(stranger, 'authenticate', nodeKeys.id)
  await call(stranger, 'connect', server.address.url, 60_000, 60_000)
  await call(stranger, 'disconnected')
  const states: string[] = await call(stranger, 'states')
  t.ok(states.includes('disconnected(SCUTTLEDB_HANDSHAKE_FAILED)'), `the unlisted page's connection failed its handshake (${states.join(' ')})`)
  const [, err] = await refusedOnNode
  t.equal(err.cause?.code, 'SCUTTLEDB_AUTH_DENIED', 'the node refused the unlisted key with SCUTTLEDB_AUTH_DENIED')
  t.equal(await call(stranger, 'get', 'fromNode'), undefined, 'and sent it nothing')
  await finish(t, stranger)
})
