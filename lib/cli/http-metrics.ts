import { readdir, stat } from 'node:fs/promises'
import { join } from 'node:path'
import type { Model } from '../model.js'
import type { BufferStatus, PeerStatus } from './node.js'

/** What `GET /metrics` reads. */
export interface MetricsSource {
  model: Model
  /** The database directory (its size is the sum of its files: LevelDB keeps few). */
  db: string
  peers: () => PeerStatus[]
  /** Commit write latencies (see CommitLatency); without it the histogram is left out. */
  latency?: CommitLatency
  /** Rejected remote input by code (see Rejections); without it the breakdown is left out. */
  rejections?: Rejections
  /** Peer exchange: entries in the address book and discovered connections; without it left out. */
  discovery?: () => { known: number, discovered: number }
  /** Each replication listener's buffer budget; without it left out. */
  buffers?: () => BufferStatus[]
}

/** Counts the instance's `rejected` events by error code, for `scuttledb_rejected_total{code}`. */
export class Rejections {
  readonly byCode = new Map<string, number>()

  constructor (model: Model) {
    // Lives as long as the model: its close ends the listener with it.
    model.on('rejected', (err) => { this.byCode.set(err.code, (this.byCode.get(err.code) ?? 0) + 1) })
  }
}

/** Upper bounds (seconds) of the commit latency buckets: 0.5 ms (a memory or cached write) to 5 s (a stalled disk). */
export const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5]

/**
 * A Prometheus histogram of commit write latency, fed by the instance's
 * `commit` event (ms from the batch write's start to its acknowledgement, fsync
 * included with --sync): one observation per commit, however many updates it holds.
 */
export class CommitLatency {
  readonly counts = LATENCY_BUCKETS.map(() => 0)
  count = 0
  sum = 0
  readonly #off: () => void

  constructor (model: Model) {
    const listener = (_updates: number, ms: number): void => { this.observe(ms / 1000) }
    model.on('commit', listener)
    this.#off = () => { model.off('commit', listener) }
  }

  /** Record one latency, in seconds. */
  observe (seconds: number): void {
    this.count++
    this.sum += seconds
    for (let i = 0; i < LATENCY_BUCKETS.length; i++) if (seconds <= LATENCY_BUCKETS[i]) this.counts[i]++
  }

  /** Stop listening. */
  close (): void {
    this.#off()
  }

  /** The histogram's exposition lines. */
  lines (name: string, help: string): string[] {
    const out = [`# HELP ${name} ${help}`, `# TYPE ${name} histogram`]
    LATENCY_BUCKETS.forEach((le, i) => { out.push(`${name}_bucket{le="${le}"} ${this.counts[i]}`) })
    out.push(`${name}_bucket{le="+Inf"} ${this.count}`, `${name}_sum ${this.sum}`, `${name}_count ${this.count}`)
    return out
  }
}

/** Peer states always reported, so a dashboard sees a 0 rather than a missing series. */
const PEER_STATES = ['connecting', 'disconnected', 'handshake', 'connected', 'replicating', 'synced']

function label (value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"')
}

async function directorySize (dir: string): Promise<number> {
  let total = 0
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    // A file compacted away between readdir and stat is simply not counted.
    const s = await stat(join(dir, name)).catch(() => undefined)
    if (s?.isFile() === true) total += s.size
  }
  return total
}

/** The node's metrics in the Prometheus text exposition format (0.0.4). */
export async function renderMetrics (source: MetricsSource): Promise<string> {
  const { model, db } = source
  const lines: string[] = []
  const metric = (name: string, type: 'counter' | 'gauge', help: string, samples: Array<[Record<string, string>, number]>): void => {
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`)
    for (const [labels, value] of samples) {
      const text = Object.entries(labels).map(([k, v]) => `${k}="${label(v)}"`).join(',')
      lines.push(`${name}${text === '' ? '' : `{${text}}`} ${value}`)
    }
  }
  const { commits, committed, old, rejected } = model.stats
  metric('scuttledb_commits_total', 'counter', 'Commits (atomic batches) written.', [[{}, commits]])
  metric('scuttledb_updates_total', 'counter', 'Updates by outcome: committed, old (not newer than the clock, dropped), rejected (malformed, skewed, unverified).',
    [[{ outcome: 'committed' }, committed], [{ outcome: 'old' }, old], [{ outcome: 'rejected' }, rejected]])
  if (source.rejections !== undefined) {
    metric('scuttledb_rejected_total', 'counter', 'Rejected remote updates and messages by reason (error code): malformed, clock skew, unverified, stale peers...',
      [...source.rejections.byCode].map(([code, n]) => [{ code }, n]))
  }
  metric('scuttledb_streams', 'gauge', 'Open replication streams.', [[{}, model.streams]])
  const peers = source.peers()
  const states = new Map(PEER_STATES.map((s) => [s, 0]))
  for (const p of peers) states.set(p.state, (states.get(p.state) ?? 0) + 1)
  metric('scuttledb_peers', 'gauge', 'Peers (outgoing and incoming connections) by state.', [...states].map(([state, n]) => [{ state }, n]))
  metric('scuttledb_peer_updates_received_total', 'counter', 'Updates received from each connected peer on its current connection.',
    peers.filter((p) => p.progress !== null).map((p) => [{ peer: p.address, direction: p.direction, transport: p.transport }, p.progress?.received ?? 0]))
  metric('scuttledb_peer_updates_sent_total', 'counter', 'Updates sent to each connected peer on its current connection.',
    peers.filter((p) => p.progress !== null).map((p) => [{ peer: p.address, direction: p.direction, transport: p.transport }, p.progress?.sent ?? 0]))
  metric('scuttledb_peer_behind_sources', 'gauge', 'Per connected peer: sources of which this node holds a newer update than the peer is known to hold (0 when in sync).',
    peers.filter((p) => p.progress !== null).map((p) => [{ peer: p.address, direction: p.direction, transport: p.transport }, p.progress?.behind.sources ?? 0]))
  metric('scuttledb_peer_lag_seconds', 'gauge', 'Per connected peer: the largest gap between this node\'s latest update of a source and the peer\'s, for sources the peer knows (0 when in sync).',
    peers.filter((p) => p.progress !== null).map((p) => [{ peer: p.address, direction: p.direction, transport: p.transport }, (p.progress?.behind.ms ?? 0) / 1000]))
  if (source.discovery !== undefined) {
    const { known, discovered } = source.discovery()
    metric('scuttledb_known_peers', 'gauge', 'Nodes in the peer-exchange address book (live entries).', [[{}, known]])
    metric('scuttledb_discovered_peers', 'gauge', 'Outgoing connections to peers learned by peer exchange (besides --peer ones).', [[{}, discovered]])
  }
  if (source.buffers !== undefined) {
    const buffers = source.buffers()
    metric('scuttledb_buffered_bytes', 'gauge', 'Per replication listener: bytes of unfinished frames (and WebSocket messages) its connections hold.',
      buffers.map((b) => [{ transport: b.transport }, b.bytes]))
    metric('scuttledb_buffered_bytes_peak', 'gauge', 'Per replication listener: the most bytes its connections held at once since the node started.',
      buffers.map((b) => [{ transport: b.transport }, b.peak]))
    metric('scuttledb_max_buffered_bytes', 'gauge', 'Per replication listener: its --max-buffered-bytes.',
      buffers.map((b) => [{ transport: b.transport }, b.limit]))
    metric('scuttledb_overloaded_total', 'counter', 'Per replication listener: connections closed with SCUTTLEDB_OVERLOADED (over --max-buffered-bytes).',
      buffers.map((b) => [{ transport: b.transport }, b.refused]))
  }
  if (source.latency !== undefined) {
    lines.push(...source.latency.lines('scuttledb_commit_duration_seconds', 'Time to write each commit (atomic batch) to the database, fsync included with --sync.'))
  }
  metric('scuttledb_sources', 'gauge', 'Sources (writers) in the node\'s clock.', [[{}, Object.keys(model.clock).length]])
  metric('scuttledb_database_bytes', 'gauge', 'Size of the database directory\'s files.', [[{}, await directorySize(db)]])
  return lines.join('\n') + '\n'
}
