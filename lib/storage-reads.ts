// Reads storage makes of its sublevels (or their prefixed views).
import { unpack } from './msgpack.js'
import type { Clock } from './protocol.js'
import type { SublevelReads } from './prefixed-view.js'
import type { KeyBounds } from './storage-types.js'

/** @internal A sublevel's raw entries in key order, `step` at a time; the iterator is closed however the loop ends. */
export async function * pages (sublevel: SublevelReads, options: KeyBounds, step: number): AsyncGenerator<Array<[string, Buffer]>> {
  const iterator = sublevel.iterator(options)
  try {
    for (let batch = await iterator.nextv(step); batch.length > 0; batch = await iterator.nextv(step)) {
      yield batch as Array<[string, Buffer]>
    }
  } finally {
    await iterator.close()
  }
}

/** @internal A sublevel mapping sources to msgpack timestamps, as a Map. */
export async function readClock (sublevel: SublevelReads): Promise<Clock> {
  const clock: Clock = new Map()
  for await (const [source, ts] of sublevel.iterator()) clock.set(source as string, unpack(ts as Buffer) as number)
  return clock
}
