// Loads the stores users compare scuttledb with (PouchDB 9 on LevelDB, Yjs + y-leveldb)
// from bench/peers/, a package of its own that `npm run bench:peers` installs, so that
// the root package (and `npm ci && npm test`) never depends on them. The types below
// are the few calls the bench makes, written here because bench/peers may be absent.
import { existsSync } from 'node:fs'
import { readdir, stat } from 'node:fs/promises'
import { createRequire } from 'node:module'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

/** bench/peers/ of the checkout (compiled files live in dist-test/bench/). */
export const PEERS_DIR = fileURLToPath(new URL('../../bench/peers/', import.meta.url))

/** What a peer row reports when bench/peers has no node_modules. */
export const NOT_INSTALLED = 'not installed: run npm run bench:peers'

const PACKAGES = ['pouchdb-node', 'yjs', 'y-leveldb']

/** True when every package of bench/peers is installed in bench/peers/node_modules. */
export function peersInstalled (): boolean {
  return PACKAGES.every((name) => existsSync(path.join(PEERS_DIR, 'node_modules', name, 'package.json')))
}

/** A PouchDB database (the calls the bench makes). */
export interface PouchDatabase {
  bulkDocs (docs: Array<Record<string, unknown>>, options?: Record<string, unknown>): Promise<Array<{ ok?: boolean, error?: string }>>
  info (): Promise<{ doc_count: number, update_seq: number | string }>
  close (): Promise<void>
}

/** A running replication: an event emitter that is also a promise of its outcome. */
export interface PouchReplication extends PromiseLike<{ ok: boolean, docs_written: number }> {
  on (event: string, listener: (info: any) => void): PouchReplication
  once (event: string, listener: (info: any) => void): PouchReplication
  cancel (): void
}

/** The PouchDB constructor with its static replicate() and sync(). */
export interface PouchStatic {
  new (name: string, options?: Record<string, unknown>): PouchDatabase
  replicate (source: PouchDatabase, target: PouchDatabase, options?: Record<string, unknown>): PouchReplication
  sync (a: PouchDatabase, b: PouchDatabase, options?: Record<string, unknown>): PouchReplication
}

/** A Y.Map of strings. */
export interface YMap {
  set (key: string, value: string): void
  get (key: string): unknown
  readonly size: number
}

/** A Y.Doc. */
export interface YDoc {
  getMap (name: string): YMap
  on (event: 'update', listener: (update: Uint8Array) => void): void
  transact (fn: () => void): void
  destroy (): void
}

/** The yjs exports the bench calls. */
export interface YjsModule {
  Doc: new () => YDoc
  encodeStateVector (doc: YDoc): Uint8Array
  encodeStateAsUpdate (doc: YDoc, stateVector?: Uint8Array): Uint8Array
  applyUpdate (doc: YDoc, update: Uint8Array): void
}

/** y-leveldb's persistence: one LevelDB holding the updates of any number of documents. */
export interface LeveldbPersistence {
  /** Resolves with the stored update's clock, or null when it failed (y-leveldb logs and swallows errors). */
  storeUpdate (docName: string, update: Uint8Array): Promise<number | null>
  getYDoc (docName: string): Promise<YDoc>
  destroy (): Promise<void>
}

export interface Peers {
  PouchDB: PouchStatic
  Y: YjsModule
  LeveldbPersistence: new (location: string) => LeveldbPersistence
}

let loaded: Peers | undefined

/**
 * Requires the peers from bench/peers/node_modules. Yjs and y-leveldb are both taken
 * through require(), so that y-leveldb's yjs is the same instance as the bench's.
 */
export function loadPeers (): Peers {
  if (loaded !== undefined) return loaded
  if (!peersInstalled()) throw new Error(NOT_INSTALLED)
  const require = createRequire(path.join(PEERS_DIR, 'package.json'))
  loaded = {
    PouchDB: require('pouchdb-node') as PouchStatic,
    Y: require('yjs') as YjsModule,
    LeveldbPersistence: (require('y-leveldb') as { LeveldbPersistence: Peers['LeveldbPersistence'] }).LeveldbPersistence
  }
  return loaded
}

/** Bytes of every file under `dir`, recursively: what a store left on disk. */
export async function treeBytes (dir: string): Promise<number> {
  let total = 0
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name)
    total += entry.isDirectory() ? await treeBytes(full) : (await stat(full)).size
  }
  return total
}

/** Median of a non-empty list of numbers. */
export function median (values: number[]): number {
  const sorted = [...values].sort((x, y) => x - y)
  const mid = sorted.length >> 1
  return sorted.length % 2 === 1 ? sorted[mid] as number : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2
}
