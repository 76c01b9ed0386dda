// Red team round 11, area l (security): docs/security.md "Rotating a key", step by
// step: the new node syncs the old id's updates (their keys travel with them) while
// the old id is in its writers' list; once it is removed, nodes refuse anything
// further signed with it and a node syncing from scratch does not take its history.
import test from 'tape'
import { generateKeys } from '../lib/index.js'
import { link } from './helpers.js'
import { securedModel } from './security-helpers.js'

test('key rotation as docs/security.md describes it', async (t) => {
  const oldKeys = generateKeys()
  const newKeys = generateKeys()
  const peerKeys = generateKeys()
  const freshKeys = generateKeys()
  const old = await securedModel(t, oldKeys)
  const peer = await securedModel(t, peerKeys, { writers: [peerKeys.id, oldKeys.id, newKeys.id] })
  await old.set('a', 'by the old key')
  await old.set('b', 'by the old key too')
  const l1 = link(old, peer)
  await l1.synced
  t.equal(await peer.get('a'), 'by the old key', 'the peer has the old id\'s writes')

  // Step 2: the new key on a new database syncs from the peer, old id still allowed.
  const rotated = await securedModel(t, newKeys, { writers: [peerKeys.id, oldKeys.id, newKeys.id] })
  const l2 = link(peer, rotated)
  await l2.synced
  t.equal(await rotated.get('a'), 'by the old key', 'the new node received the old id\'s updates, verified')
  t.equal(rotated.clock[oldKeys.id], peer.clock[oldKeys.id], 'with the old id\'s clock entry')
  await rotated.set('b', 'rewritten by the new key')

  // Step 4, compromised key: a node from scratch without the old id.
  const fresh = await securedModel(t, freshKeys, { writers: [freshKeys.id, peerKeys.id, newKeys.id] })
  const rejected: string[] = []
  fresh.on('unverified', (_u, reason: string) => { rejected.push(reason) })
  const l3 = link(rotated, fresh)
  await l3.synced
  t.equal(await fresh.get('a'), undefined, 'the old id\'s history is not taken')
  t.equal(await fresh.get('b'), 'rewritten by the new key', 'the key the new id wrote again is')
  t.ok(rejected.length > 0 && rejected.every((r) => r === 'source not allowed to write'), `refused as not allowed (${rejected.join(', ')})`)
  t.equal(fresh.clock[oldKeys.id], undefined, 'and no clock entry for the old id')

  // Anything further signed with the old key is refused too.
  const l4 = link(old, fresh)
  await l4.synced
  await old.set('c', 'after removal')
  const l5 = link(old, fresh)
  await l5.synced
  t.equal(await fresh.get('c'), undefined, 'a new write by the old key is refused')
  for (const l of [l1, l2, l3, l4, l5]) { l.a.destroy(); l.b.destroy() }
})
