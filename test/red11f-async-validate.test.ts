import test from 'tape'
import { once } from 'node:events'
import { MemoryLevel } from 'memory-level'
import { Scuttlebutt, type ScuttledbError, type Transaction, type Update } from '../lib/index.js'
import { allHistory, frame, sleep } from './helpers.js'

// _validateChange is a synchronous shape check (docs/subclassing.md). One written async
// returns a promise, which is truthy: every change passed, so a local call and a peer could
// store what the type refuses, and its _applyUpdate met shapes it never expected. (TypeScript
// refuses the override; plain JavaScript subclasses, and casts, do not.)
class Numbers extends Scuttlebutt {
  // @ts-expect-error: the mistake under test, a hook that must be synchronous written async
  protected override async _validateChange (change: unknown): Promise<boolean> {
    return typeof change === 'number'
  }

  protected override _applyUpdate (_update: Update, _tx: Transaction): boolean {
    return true
  }
}

test('an async _validateChange refuses changes (fails closed) rather than passing every one', async (t) => {
  const a = new Numbers({ db: new MemoryLevel() })
  await a.open()
  t.teardown(async () => { await a.close() })
  let code: unknown
  try {
    await a.localUpdate('not a number')
  } catch (err) {
    code = (err as { code?: unknown }).code
  }
  t.equal(code, 'SCUTTLEDB_INVALID_VALUE', 'a local change is refused with SCUTTLEDB_INVALID_VALUE')
  const s = a.createStream()
  s.on('error', () => {})
  const rejected = once(a._lifecycleEmitter, 'rejected') as Promise<[ScuttledbError]>
  s.write(Buffer.concat([frame({ id: 'PEER', clock: {} }), frame([{ not: 'a number' }, Date.now(), 'PEER'])]))
  const outcome = await Promise.race([rejected.then(([err]) => err.code), sleep(5000).then(() => 'no rejection within 5 s')])
  t.equal(outcome, 'SCUTTLEDB_INVALID_MESSAGE', 'a peer\'s change is refused with SCUTTLEDB_INVALID_MESSAGE')
  t.same(await allHistory(a as unknown as Scuttlebutt), [], 'nothing is stored')
})
