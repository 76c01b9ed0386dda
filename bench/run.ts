// `npm run bench`: runs every registered benchmark one after another in this process
// (the memory benchmarks fork their own), prints one table per group with ratios
// against the group's baseline, and writes the same figures as JSON.
//
// Flags (env in brackets):
//   --quick                [BENCH_QUICK=1]  sizes divided by 10, a smoke run of seconds
//   --only <substring>     [BENCH_ONLY]     only entries whose "group / name" contains it (a|b: either)
//   --peers                [BENCH_PEERS=1]  only the peers' rows (bench/peers.ts) and those they compare with
//   --json <path>          [BENCH_JSON]     where to write the JSON
//   --<size> <n>           [BENCH_<SIZE>]   e.g. --writes 500000, --sync-writes, --process-sync
//                                           --rss-keys (memory group, default 1M), --reopen-keys
//   --chart <path>         [BENCH_CHART]    where to write the SVG chart (bench/chart.ts)
// A full run writes bench/results.json and docs/benchmarks.svg; --quick, --only or
// --peers runs write both to os.tmpdir() unless --json/--chart say otherwise, so a
// smoke run never replaces the real figures.
//
// The scuttledb side lives in bench/scuttledb.ts: it imports defineGroup/register
// from ./registry.js and registers entries at its top level into the groups below
// (or new ones); run.js imports it when its compiled file exists.
import { existsSync } from 'node:fs'
import { writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import {
  barePipeline, loopbackTcp, msgpackCodec, originalLive, originalSync, originalSyncProcesses, rawChainedBatch
} from './baselines.js'
import {
  buildReports, DEFAULT_SIZES, defineGroup, formatReports, formatResultRate, isSkip, register, selectEntries,
  type BenchContext, type Outcome, type Sizes
} from './registry.js'
import { collectGarbage } from './util.js'
import { liveProcesses } from './live-processes.js'
import { describeRun, renderChart } from './chart.js'
import { isPeersRow, registerPeers } from './peers.js'

/** Declares the groups and registers the baselines, each group's first entry its baseline. */
function registerBaselines (): void {
  defineGroup('writes', {
    title: 'durable local writes',
    baseline: 'raw chained batch',
    goal: 'scuttledb durable writes >= 0.5x raw chained batch'
  })
  register('writes', 'raw chained batch', async ({ sizes }) => await rawChainedBatch({ n: sizes.writes }))
  // Not a goal's reference: a Model writes two records per update (its log entry and the key's pointer).
  register('writes', 'raw chained batch, log + key records', async ({ sizes }) => await rawChainedBatch({ n: sizes.writes, keyRecords: true }))

  defineGroup('fsync-writes', { title: 'local writes, fsync per batch', baseline: 'raw chained batch (fsync)' })
  register('fsync-writes', 'raw chained batch (fsync)', async ({ sizes }) => await rawChainedBatch({ n: sizes.syncWrites, sync: true }))

  defineGroup('codec', { title: 'wire codec', baseline: 'msgpackr encode+decode' })
  register('codec', 'msgpackr encode+decode', async ({ sizes }) => await msgpackCodec({ n: sizes.codec }))

  defineGroup('sync', {
    title: 'initial sync of a fresh peer',
    baseline: 'original sync (tcp)',
    goal: 'scuttledb sync >= 2x original in the same topology (both sides in one process over tcp); each side < 200 MB RSS at 1M keys'
  })
  register('sync', 'original sync (tcp)', async ({ sizes }) => await originalSync({ n: sizes.sync }))
  register('sync', 'original sync (inprocess)', async ({ sizes }) => await originalSync({ n: sizes.sync, transport: 'inprocess' }))
  register('sync', 'original sync (2 processes)', async ({ sizes }) => await originalSyncProcesses({ n: sizes.processSync }))

  defineGroup('live', {
    title: 'live replication',
    baseline: 'bare msgpack>tcp>level',
    goal: 'scuttledb replicated+persisted >= 0.5x bare pipeline, which is ~2x original live'
  })
  register('live', 'bare msgpack>tcp>level', async ({ sizes }) => await barePipeline({ n: sizes.live }))
  register('live', 'original live (tcp)', async ({ sizes }) => await originalLive({ n: sizes.live }))
  register('live', 'original live (2 processes)', async ({ sizes }) => await liveProcesses({ n: sizes.live, kind: 'original', name: 'original live (2 processes)' }))

  defineGroup('transport', { title: 'transport reference', baseline: 'loopback tcp' })
  register('transport', 'loopback tcp', async ({ sizes }) => await loopbackTcp({ bytes: sizes.tcpBytes }))
}

interface Cli {
  quick: boolean
  peers: boolean
  only?: string
  json?: string
  chart?: string
  sizes: Sizes
}

const camel = (s: string): string => s.replace(/[-_]([a-z])/g, (_m, c: string) => c.toUpperCase())
const envName = (key: string): string => 'BENCH_' + key.replace(/[A-Z]/g, (c) => '_' + c).toUpperCase()

/** Reads flags and env; flags win over env, both win over (possibly quick) defaults. */
function parseCli (argv: string[], env: NodeJS.ProcessEnv = process.env): Cli {
  const flags = new Map<string, string>()
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string
    if (!arg.startsWith('--')) throw new TypeError(`unexpected argument ${arg}`)
    const [name, inline] = arg.slice(2).split('=', 2) as [string, string | undefined]
    if (name === 'quick' || name === 'peers') { flags.set(name, '1'); continue }
    const value = inline ?? argv[++i]
    if (value === undefined) throw new TypeError(`--${name} needs a value`)
    flags.set(camel(name), value)
  }
  const pick = (key: string): string | undefined => flags.get(key) ?? env[envName(key)]
  const quick = pick('quick') !== undefined && pick('quick') !== '0'
  const peers = pick('peers') !== undefined && pick('peers') !== '0'
  const sizes: Sizes = { ...DEFAULT_SIZES }
  for (const key of Object.keys(sizes) as Array<keyof Sizes>) {
    const raw = pick(key)
    if (raw === undefined) {
      if (quick) sizes[key] = Math.max(1, Math.round(sizes[key] / 10))
      continue
    }
    const n = Number(raw.replace(/_/g, ''))
    if (!Number.isSafeInteger(n) || n <= 0) throw new TypeError(`size ${key} must be a positive integer, got ${raw}`)
    sizes[key] = n
  }
  for (const key of flags.keys()) {
    if (!(key in sizes) && !['quick', 'peers', 'only', 'json', 'chart'].includes(key)) throw new TypeError(`unknown flag --${key}`)
  }
  const only = pick('only')
  const json = pick('json')
  const chart = pick('chart')
  return {
    quick, peers, sizes, ...(only !== undefined ? { only } : {}), ...(json !== undefined ? { json } : {}), ...(chart !== undefined ? { chart } : {})
  }
}

async function loadOptionalGroups (): Promise<void> {
  for (const file of ['./scuttledb.js', './security.js', './collection.js']) {
    const url = new URL(file, import.meta.url)
    // A variable specifier, so tsc does not require the file before it is written.
    if (existsSync(url)) await import(url.href)
  }
}

async function main (): Promise<void> {
  const cli = parseCli(process.argv.slice(2))
  registerBaselines()
  await loadOptionalGroups()
  // After scuttledb's groups: the peers add to their alsoVs.
  registerPeers()
  const peersOnly = cli.peers ? selectEntries(isPeersRow) : undefined
  const selected = selectEntries(cli.only).filter((e) => peersOnly === undefined || peersOnly.includes(e))
  if (selected.length === 0) throw new Error(`no benchmark matches --only ${cli.only ?? ''}`)
  const ctx: BenchContext = { sizes: cli.sizes, quick: cli.quick }
  console.error(`sizes: ${JSON.stringify(cli.sizes)}${cli.quick ? ' (quick)' : ''}`)
  const outcomes: Outcome[] = []
  for (const entry of selected) {
    collectGarbage()
    process.stderr.write(`${entry.group} / ${entry.name} ... `)
    try {
      const result = await entry.fn(ctx)
      // The registered name is the one ratios and --only refer to.
      result.name = entry.name
      outcomes.push({ entry, result })
      process.stderr.write(`${formatResultRate(result)} in ${result.seconds.toFixed(2)}s\n`)
    } catch (err) {
      if (isSkip(err)) {
        outcomes.push({ entry, skipped: err.message })
        process.stderr.write(`skipped: ${err.message}\n`)
        continue
      }
      const error = err instanceof Error ? err.message : String(err)
      outcomes.push({ entry, error })
      process.stderr.write(`FAILED: ${error}\n`)
    }
  }
  const reports = buildReports(outcomes)
  console.log(formatReports(reports))

  const partial = cli.quick || cli.only !== undefined || cli.peers
  const out = cli.json ?? (partial
    ? path.join(os.tmpdir(), 'scuttledb-bench-results.json')
    : fileURLToPath(new URL('../../bench/results.json', import.meta.url)))
  const cpus = os.cpus()
  const results = {
    date: new Date().toISOString(),
    argv: process.argv.slice(2),
    quick: cli.quick,
    sizes: cli.sizes,
    machine: {
      node: process.version,
      platform: `${process.platform} ${os.release()} ${process.arch}`,
      cpus: cpus.length,
      cpuModel: cpus[0]?.model ?? 'unknown',
      totalMemory: os.totalmem()
    },
    groups: reports
  }
  await writeFile(out, JSON.stringify(results, null, 2) + '\n')
  console.log(`\nJSON written to ${out}`)
  const chartOut = cli.chart ?? (partial
    ? path.join(os.tmpdir(), 'scuttledb-bench-results.svg')
    : fileURLToPath(new URL('../../docs/benchmarks.svg', import.meta.url)))
  await writeFile(chartOut, renderChart({ groups: reports, subtitle: describeRun(results) }))
  console.log(`chart written to ${chartOut}`)
  if (outcomes.some((o) => o.error !== undefined)) process.exitCode = 1
}

main().catch((err: unknown) => {
  console.error(err)
  process.exitCode = 1
})
