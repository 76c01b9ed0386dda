// classic-level keeps a chained batch's native buffer (LevelDB's WriteBatch: every key
// and value the commit wrote) until the garbage collector finalizes the batch's
// JavaScript object (its ChainedBatch#_close is a TODO upstream), and V8 does not know
// that memory exists. The batch objects outlive a few scavenges while their write is in
// flight, so they reach the old generation; a receiver whose heap barely grows runs no
// major collection for a long time and holds every batch it wrote: 370 MB after a
// 1M-update sync, 164 MB with a full GC every 300 ms (docs/benchmarks.md).
//
// An ArrayBuffer is memory V8 does count: for every BALLAST_BYTES that written batches
// hold, one ArrayBuffer of that size is tied to a batch object (it lives exactly as
// long), so the collector sees what the batches hold and collects them as it would
// that much memory (V8 starts a major GC after tens of MB of external growth). Large
// ArrayBuffers are zero pages from mmap that nobody touches: address space, not
// resident memory. Node only: browser-level's batches are JavaScript arrays.

/** Native bytes per ballast ArrayBuffer. */
export const BALLAST_BYTES = 1 << 20

const onNode = typeof process !== 'undefined' && typeof process.versions?.node === 'string'
const held = new WeakMap<object, ArrayBuffer[]>()
let owed = 0

/** Account `bytes` of native memory that stays allocated until `owner` is garbage collected. */
export function holdsNative (owner: object, bytes: number): void {
  if (!onNode) return
  owed += bytes
  while (owed >= BALLAST_BYTES) {
    owed -= BALLAST_BYTES
    const ballast = new ArrayBuffer(BALLAST_BYTES)
    const list = held.get(owner)
    if (list === undefined) held.set(owner, [ballast])
    else list.push(ballast)
  }
}

