import test from 'tape'
import { authenticate, generateKeys } from '../lib/index.js'

test('authenticate() checks its options at the call: keys, timeout and allow of the wrong kind are TypeErrors', (t) => {
  const keys = generateKeys()
  for (const [label, options] of [
    ['keys: 5', { keys: 5 }],
    ['keys: {}', { keys: {} }],
    ['a public key only', { keys: { id: keys.id, privateKey: keys.publicKey } }],
    ['timeout: 0', { keys, timeout: 0 }],
    ['timeout: "x"', { keys, timeout: 'x' }],
    ['allow: 5', { keys, allow: 5 }],
    ['allow: "id"', { keys, allow: keys.id }]
  ] as const) {
    t.throws(() => authenticate(options as never), TypeError, `${label} is a TypeError`)
  }
  t.equal(typeof authenticate({ keys, allow: [keys.id], timeout: 500 }), 'function', 'good options give a handshake')
  t.equal(typeof authenticate({ keys, allow: (id) => id === keys.id }), 'function', 'so does an allow predicate')
  t.end()
})

test('a now() that returns anything but a finite number makes set() reject with a TypeError, and stores nothing', async (t) => {
  const { Model } = await import('../lib/index.js')
  const { MemoryLevel } = await import('memory-level')
  for (const value of ['soon', Number.NaN, Infinity, undefined]) {
    const model = new Model({ db: new MemoryLevel(), now: () => value as number })
    await model.open()
    await model.set('k', 1).then(() => t.fail('set resolved'), (err) => { t.ok(err instanceof TypeError, `now() returning ${String(value)}: a TypeError`) })
    t.equal(await model.get('k'), undefined, 'nothing stored')
    await model.close()
  }
})
