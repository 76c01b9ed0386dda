import test from 'tape'
import { once } from 'node:events'
import { WebSocket } from 'ws'
import {
  Model, authenticate, authenticateBrowser, browserKeysFromSecret, browserSecurityOptions, connectWebSocket as nodeConnect, createBrowserSecurity,
  createSecurity, generateBrowserKeys, generateKeys, idOf, listenWebSocket, loadOrCreateBrowserKeys, securityOptions, type Update
} from '../lib/index.js'
import { connectWebSocket, type BrowserWebSocketConstructor } from '../lib/browser.js'
import { link, memoryModel, tempDir } from './helpers.js'

// The browser signer and handshake on Node, against the Node backend: one wire format.
const Ws = WebSocket as unknown as BrowserWebSocketConstructor

test('a browser key\'s id is the Node id of its public key, and an update it signs verifies on Node and the reverse', async (t) => {
  const browser = generateBrowserKeys()
  t.equal(browser.id, idOf(browser.publicKeyDer), 'the same id as idOf() on Node')
  const node = generateKeys()
  const signer = createBrowserSecurity({ keys: browser })
  const update: Update = [['k', { v: [1, 'two'] }], 1700000000000, browser.id]
  const signed: Update = [...update, signer.sign(update)] as Update
  t.equal(createSecurity().verifySync(signed), true, 'Node verifies the browser\'s signature')
  const fromNode: Update = [['k', 2], 1700000000001, node.id]
  t.equal(signer.verify([...fromNode, createSecurity({ keys: node }).sign(fromNode)] as Update), true, 'the browser verifies Node\'s signature')
  const tampered: Update = [['k', { v: [1, 'three'] }], signed[1], signed[2], signed[3]] as Update
  t.equal(signer.verify(tampered), 'bad signature', 'an altered change fails')
  t.equal(createSecurity().verifySync(tampered), 'bad signature', 'on Node too')
  t.equal(signer.verify(update), 'unsigned', 'an unsigned update')
  t.equal(signer.verify([update[0], update[1], node.id, signed[3]] as Update), 'key does not hash to source', 'a key claimed for another id')
  const rsa = generateKeys({ type: 'rsa', modulusLength: 2048 })
  const fromRsa: Update = [['k', 3], 1700000000002, rsa.id]
  t.equal(signer.verify([...fromRsa, createSecurity({ keys: rsa }).sign(fromRsa)] as Update), 'invalid public key', 'an RSA-signed update is refused as an invalid key in the browser')
  // A small-order key (the identity) with the trivial signature R = identity, S = 0.
  const der = Uint8Array.from([...browser.publicKeyDer.subarray(0, 12), 1, ...new Uint8Array(31)])
  const trivial = Buffer.from([1, ...new Uint8Array(63)]).toString('base64url')
  const forged: Update = [['k', 'forged'], 1, idOf(der), [trivial, Buffer.from(der).toString('base64url')]]
  t.notEqual(signer.verify(forged), true, 'a trivial signature under a small-order key does not verify')
  t.throws(() => createBrowserSecurity().sign(update), /./, 'a verify-only backend cannot sign')
  try {
    signer.sign([['k', 1], 1, node.id])
    t.fail('signed for another source')
  } catch (err) {
    t.equal((err as { code?: string }).code, 'SCUTTLEDB_CANNOT_SIGN', 'signing for another source id is refused, coded')
  }
  t.equal(browserKeysFromSecret(browser.secretKey).id, browser.id, 'the same secret gives the same id')
})

test('a signed browser model replicates with a Node model that has a writers\' allow-list; an unlisted browser key\'s writes are rejected', async (t) => {
  const nodeKeys = generateKeys()
  const listed = generateBrowserKeys()
  const unlisted = generateBrowserKeys()
  const node = await memoryModel(t, { ...securityOptions(nodeKeys, { verifyOn: 'main' }), writers: [nodeKeys.id, listed.id] })
  const page = await memoryModel(t, browserSecurityOptions(listed))
  const stranger = await memoryModel(t, browserSecurityOptions(unlisted))
  await node.set('fromNode', 1)
  await page.set('fromBrowser', 'signed')
  await stranger.set('fromStranger', 'nope')
  const l1 = link(node, page)
  await l1.synced
  t.equal(await node.get('fromBrowser'), 'signed', 'the node accepted the listed browser peer\'s signed write')
  t.equal(await page.get('fromNode'), 1, 'the browser verified the node\'s write')
  const rejected = once(node, 'rejected')
  const l2 = link(node, stranger)
  const [err] = await rejected as [{ code?: string }]
  await l2.synced
  t.equal(err.code, 'SCUTTLEDB_UNVERIFIED', 'the unlisted key\'s write is rejected, coded')
  t.equal(await node.get('fromStranger'), undefined, 'and not stored')
  l1.a.destroy()
  l2.a.destroy()
})

test('authenticateBrowser proves the browser peer\'s id to a Node authenticate() server; an unlisted key is refused with SCUTTLEDB_AUTH_DENIED', async (t) => {
  const nodeKeys = generateKeys()
  const listed = generateBrowserKeys()
  const unlisted = generateBrowserKeys()
  const node = await memoryModel(t, securityOptions(nodeKeys))
  await node.set('secret', 42)
  const server = await listenWebSocket(node, { handshake: authenticate({ keys: nodeKeys, allow: [listed.id] }) })
  t.teardown(async () => { await server.close() })
  const page = await memoryModel(t, browserSecurityOptions(listed))
  const client = connectWebSocket(page, { url: server.address.url, WebSocket: Ws, handshake: authenticateBrowser({ keys: listed, allow: [nodeKeys.id] }) })
  t.teardown(async () => { await client.close() })
  await once(client, 'synced')
  t.equal(await page.get('secret'), 42, 'the listed browser peer authenticated and synced')

  const other = await memoryModel(t, browserSecurityOptions(unlisted))
  const serverSide = once(server, 'disconnect') as Promise<[unknown, { code?: string, cause?: { code?: string } }]>
  const refused = connectWebSocket(other, { url: server.address.url, WebSocket: Ws, reconnect: false, handshake: authenticateBrowser({ keys: unlisted }) })
  const [err] = await once(refused, 'disconnected') as [{ code?: string }]
  t.equal(err.code, 'SCUTTLEDB_HANDSHAKE_FAILED', 'the unlisted browser peer\'s connection failed its handshake')
  const [, serverErr] = await serverSide
  t.equal(serverErr.cause?.code, 'SCUTTLEDB_AUTH_DENIED', 'the node refused the unlisted key, coded')
  t.equal(await other.get('secret'), undefined, 'and the unlisted peer got nothing')
  await refused.close()

  // The other way: the browser side refuses a node it does not list.
  const wary = await memoryModel(t, browserSecurityOptions(listed))
  const denied = connectWebSocket(wary, { url: server.address.url, WebSocket: Ws, reconnect: false, handshake: authenticateBrowser({ keys: listed, allow: [unlisted.id] }) })
  const [err2] = await once(denied, 'disconnected') as [{ cause?: { code?: string } }]
  t.equal(err2.cause?.code, 'SCUTTLEDB_AUTH_DENIED', 'a browser peer refuses a node not on its list')
  await denied.close()
  t.ok(typeof nodeConnect === 'function', 'the Node entry keeps its own connectWebSocket')
})

test('loadOrCreateBrowserKeys keeps one key pair in its store across reopenings', async (t) => {
  const dir = await tempDir(t)
  const first = await loadOrCreateBrowserKeys(`${dir}/keys`)
  const again = await loadOrCreateBrowserKeys(`${dir}/keys`)
  t.equal(again.id, first.id, 'the same id the second time')
  const other = await loadOrCreateBrowserKeys(`${dir}/keys`, 'second')
  t.notEqual(other.id, first.id, 'another name, another key')
  const model = new Model({ db: `${dir}/db`, ...browserSecurityOptions(again) })
  await model.open()
  t.equal(model.id, first.id, 'a model opened with it writes as that id')
  await model.close()
})
