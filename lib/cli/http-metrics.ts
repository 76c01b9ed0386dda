import { readdir, stat } from 'node:fs/promises'
import { join } from 'node:path'
import type { Model } from '../model.js'
import type { PeerStatus } from './node.js'

/** What `GET /metrics` reads. */
export interface MetricsSource {
  model: Model
  /** The database directory (its size is the sum of its files: LevelDB keeps few). */
  db: string
  peers: () => PeerStatus[]
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
  metric('scuttledb_streams', 'gauge', 'Open replication streams.', [[{}, model.streams]])
  const peers = source.peers()
  const states = new Map(PEER_STATES.map((s) => [s, 0]))
  for (const p of peers) states.set(p.state, (states.get(p.state) ?? 0) + 1)
  metric('scuttledb_peers', 'gauge', 'Peers (outgoing and incoming connections) by state.', [...states].map(([state, n]) => [{ state }, n]))
  metric('scuttledb_peer_updates_received_total', 'counter', 'Updates received from each connected peer on its current connection.',
    peers.filter((p) => p.progress !== null).map((p) => [{ peer: p.address, direction: p.direction }, p.progress?.received ?? 0]))
  metric('scuttledb_peer_updates_sent_total', 'counter', 'Updates sent to each connected peer on its current connection.',
    peers.filter((p) => p.progress !== null).map((p) => [{ peer: p.address, direction: p.direction }, p.progress?.sent ?? 0]))
  metric('scuttledb_sources', 'gauge', 'Sources (writers) in the node\'s clock.', [[{}, Object.keys(model.clock).length]])
  metric('scuttledb_database_bytes', 'gauge', 'Size of the database directory\'s files.', [[{}, await directorySize(db)]])
  return lines.join('\n') + '\n'
}
