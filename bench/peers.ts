// The stores users compare scuttledb with, registered into scuttledb's groups so
// that they print (and plot) side by side with it: PouchDB 9 on LevelDB
// (bench/pouchdb.ts) and Yjs + y-leveldb (bench/yjs.ts). They come from bench/peers/,
// which `npm run bench:peers` installs; without it every row is reported as skipped
// ("not installed: run npm run bench:peers"), never failed. Each row runs in a fresh
// child process, as scuttledb's do, so what ran before does not change its figure.
import { addAlsoVs, register, skipBench, type BenchResult, type Entry, type Sizes } from './registry.js'
import { NOT_INSTALLED, peersInstalled } from './peers-load.js'
import { runInChild } from './util.js'

/** Keys in the small database of the reopen rows (scuttledb's is the same). */
const REOPEN_SMALL = 1000
/** Opens timed per reopen row; Yjs loads the whole document each time, so fewer at size. */
const OPENS = 31
const OPENS_LARGE_YJS = 11

const registered = new Set<string>()

/**
 * The rows of other benchmarks `npm run bench:peers` runs with the peers: the ones
 * their ratios are taken against ("group / name").
 */
const COMPANIONS = new Set([
  'writes / raw chained batch',
  'writes / scuttledb set()',
  'sync / original sync (2 processes)',
  'sync / scuttledb sync (tcp)',
  'sync / scuttledb sync (2 processes)',
  'live / bare msgpack>tcp>level',
  'live / original live (tcp)',
  'live / scuttledb live (tcp)',
  `reopen / reopen (${REOPEN_SMALL} updates)`
])

/** The selection of `--peers`: the peers' rows and the rows they are compared with. */
export function isPeersRow (entry: Entry): boolean {
  const id = `${entry.group} / ${entry.name}`
  return registered.has(id) || COMPANIONS.has(id)
}

function peer<A> (group: string, name: string, module: string, exportName: string, args: (sizes: Sizes) => A, needsPeers = true): void {
  registered.add(`${group} / ${name}`)
  register(group, name, async ({ sizes }) => {
    if (needsPeers && !peersInstalled()) throw skipBench(NOT_INSTALLED)
    const out = await runInChild<A & { name: string }, BenchResult>(module, exportName, { ...args(sizes), name })
    return { ...out.value, processPeakRss: out.maxRss }
  })
}

/** Registers the peers' rows; call after bench/scuttledb.ts has registered its groups. */
export function registerPeers (): void {
  const POUCH = './pouchdb.js'
  const YJS = './yjs.js'

  addAlsoVs('writes', 'scuttledb set()')
  peer('writes', 'pouchdb bulkDocs() (1000 per call)', POUCH, 'pouchBulkDocs', (s) => ({ n: s.writes }))
  peer('writes', 'yjs + y-leveldb storeUpdate() (1 key per update)', YJS, 'yjsStoreUpdates', (s) => ({ n: s.writes }))

  addAlsoVs('sync', 'scuttledb sync (2 processes)')
  peer('sync', 'pouchdb replicate() (in process)', POUCH, 'pouchReplicate', (s) => ({ n: s.sync }))
  // Tuned: ten times the default batch_size, for those who would tune it.
  peer('sync', 'pouchdb replicate() (in process, batch_size 1000)', POUCH, 'pouchReplicate', (s) => ({ n: s.sync, batchSize: 1000 }))
  peer('sync', 'yjs state-vector sync (in process)', YJS, 'yjsStateVectorSync', (s) => ({ n: s.sync }))

  addAlsoVs('live', 'scuttledb live (tcp)')
  peer('live', 'pouchdb sync({ live: true }) (in process)', POUCH, 'pouchLive', (s) => ({ n: s.live }))

  peer('reopen', `pouchdb reopen (${REOPEN_SMALL} docs)`, POUCH, 'pouchReopen', () => ({ n: REOPEN_SMALL, opens: OPENS }))
  peer('reopen', 'pouchdb reopen (--peer-reopen-keys docs)', POUCH, 'pouchReopen', (s) => ({ n: s.peerReopenKeys, opens: OPENS }))
  peer('reopen', `yjs getYDoc() reopen (${REOPEN_SMALL} updates)`, YJS, 'yjsReopen', () => ({ n: REOPEN_SMALL, opens: OPENS }))
  peer('reopen', 'yjs getYDoc() reopen (--peer-reopen-keys updates)', YJS, 'yjsReopen', (s) => ({ n: s.peerReopenKeys, opens: OPENS_LARGE_YJS }))
  // scuttledb at the peers' size, so the large reopen rows compare like with like.
  peer('reopen', 'scuttledb reopen (--peer-reopen-keys updates)', './scuttledb-work.js', 'scuttledbReopen', (s) => ({ n: s.peerReopenKeys, opens: OPENS }), false)
}
