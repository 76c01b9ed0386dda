// The benchmark registry. It lives apart from run.ts so that bench/scuttledb.ts can
// import it without importing the entry point (an import cycle through a module that
// is still running its top level would deadlock).
import { formatMB, formatRate } from './util.js'

/** A JSON-friendly extra figure of a result. */
export type Extra = number | string | boolean | undefined

/** What every benchmark resolves with; further figures ride along as extra keys. */
export interface BenchResult {
  name: string
  /** Units of work done: entries, updates or bytes (see `unit`). */
  ops: number
  seconds: number
  opsPerSec: number
  unit?: string
  [extra: string]: Extra
}

/** Sizes of the workloads; run.ts fills them from flags, env and defaults. */
export interface Sizes {
  /** Entries for non-fsync durable writes. */
  writes: number
  /** Entries for writes that fsync each batch. */
  syncWrites: number
  /** Updates to encode and decode. */
  codec: number
  /** Keys for the initial-sync benchmarks. */
  sync: number
  /** Keys for initial sync with each side in its own process (memory figures). */
  processSync: number
  /** Updates for live replication. */
  live: number
  /** Bytes for raw loopback TCP. */
  tcpBytes: number
  /** Keys synced with each side in its own process for the peak-RSS goal (--rss-keys). */
  rssKeys: number
  /** Updates stored in the large database of the reopen benchmark (--reopen-keys). */
  reopenKeys: number
  /** Docs or updates in the large database of the peers' reopen rows (--peer-reopen-keys). */
  peerReopenKeys: number
}

/** Defaults of a full run; --quick divides them by 10. */
export const DEFAULT_SIZES: Readonly<Sizes> = {
  writes: 200_000,
  syncWrites: 50_000,
  codec: 1_000_000,
  sync: 100_000,
  processSync: 100_000,
  live: 100_000,
  tcpBytes: 1_000_000_000,
  rssKeys: 1_000_000,
  reopenKeys: 1_000_000,
  peerReopenKeys: 100_000
}

/** What a registered benchmark receives. */
export interface BenchContext {
  sizes: Readonly<Sizes>
  quick: boolean
}

export type BenchFn = (ctx: BenchContext) => Promise<BenchResult>

/** A group of entries measured side by side; ratios are taken against `baseline`. */
export interface GroupSpec {
  title: string
  /** Name of the entry the others are divided by (opsPerSec / baseline opsPerSec). */
  baseline?: string
  /** One line telling the reader which ratio the goals ask for. */
  goal?: string
  /** Further entries every entry is also divided by, printed in the extras as vs(name)=ratio. */
  alsoVs?: string[]
}

export interface Entry {
  group: string
  name: string
  fn: BenchFn
}

const groups = new Map<string, GroupSpec>()
const entries: Entry[] = []

/** Declares a group, or updates its title, baseline and goal. Groups print in definition order. */
export function defineGroup (group: string, spec: Partial<GroupSpec> = {}): void {
  const old = groups.get(group) ?? { title: group }
  groups.set(group, { ...old, ...spec })
}

/** Registers a benchmark in a group (defining the group if it is new). */
export function register (group: string, name: string, fn: BenchFn): void {
  if (!groups.has(group)) defineGroup(group)
  if (entries.some((e) => e.group === group && e.name === name)) {
    throw new Error(`benchmark ${group} / ${name} registered twice`)
  }
  entries.push({ group, name, fn })
}

/** Adds names to a group's alsoVs (keeping those already there). */
export function addAlsoVs (group: string, ...names: string[]): void {
  const old = groups.get(group)?.alsoVs ?? []
  defineGroup(group, { alsoVs: [...old, ...names.filter((name) => !old.includes(name))] })
}

/**
 * Entries whose "group / name" contains `only` (case-insensitive; `a|b` matches
 * either), or for which `only` returns true, in group order.
 */
export function selectEntries (only?: string | ((entry: Entry) => boolean)): Entry[] {
  const needles = typeof only === 'string' ? only.toLowerCase().split('|') : undefined
  const keep = typeof only === 'function'
    ? only
    : (e: Entry) => needles === undefined || needles.some((n) => `${e.group} / ${e.name}`.toLowerCase().includes(n))
  const order = [...groups.keys()]
  return entries
    .filter(keep)
    .sort((a, b) => order.indexOf(a.group) - order.indexOf(b.group))
}

/** Code of the error a benchmark throws when it cannot run here (see skipBench). */
export const SKIPPED = 'BENCH_SKIPPED'

/** An error that makes the run report the entry as skipped, not failed. */
export function skipBench (reason: string): Error {
  return Object.assign(new Error(reason), { code: SKIPPED })
}

/** True for an error made by skipBench. */
export function isSkip (err: unknown): err is Error {
  return err instanceof Error && (err as { code?: unknown }).code === SKIPPED
}

/** A result, why the entry failed, or why it was skipped; neither is fatal to the run. */
export interface Outcome {
  entry: Entry
  result?: BenchResult
  error?: string
  skipped?: string
}

/** One group as it is printed and stored in results.json. */
export interface GroupReport {
  group: string
  title: string
  baseline?: string
  goal?: string
  entries: Array<{ name: string, ratio?: number, ratiosVs?: Record<string, number>, error?: string, skipped?: string, result?: BenchResult }>
}

/** Groups outcomes and divides each rate by its group's baseline rate, when it ran. */
export function buildReports (outcomes: Outcome[]): GroupReport[] {
  const reports: GroupReport[] = []
  for (const [group, spec] of groups) {
    const mine = outcomes.filter((o) => o.entry.group === group)
    if (mine.length === 0) continue
    const base = mine.find((o) => o.entry.name === spec.baseline)?.result
    const others = (spec.alsoVs ?? [])
      .map((name) => [name, mine.find((o) => o.entry.name === name)?.result] as const)
      .filter((pair): pair is readonly [string, BenchResult] => pair[1] !== undefined && pair[1].opsPerSec > 0)
    reports.push({
      group,
      ...spec,
      entries: mine.map((o) => {
        const vs = o.result === undefined || others.length === 0
          ? undefined
          : Object.fromEntries(others.map(([name, res]) => [name, (o.result as BenchResult).opsPerSec / res.opsPerSec]))
        return {
          name: o.entry.name,
          ...(o.error !== undefined ? { error: o.error } : {}),
          ...(o.skipped !== undefined ? { skipped: o.skipped } : {}),
          ...(o.result !== undefined ? { result: o.result } : {}),
          ...(o.result !== undefined && base !== undefined && base.opsPerSec > 0
            ? { ratio: o.result.opsPerSec / base.opsPerSec }
            : {}),
          ...(vs !== undefined ? { ratiosVs: vs } : {})
        }
      })
    })
  }
  return reports
}

/** The rate of a result: MB/s for bytes, else ops/s (its unit is in the extras column). */
export function formatResultRate (res: BenchResult): string {
  return res.unit === 'bytes' ? (res.opsPerSec / 1e6).toFixed(1) + ' MB/s' : formatRate(res.opsPerSec)
}

const CORE_KEYS = new Set(['name', 'ops', 'seconds', 'opsPerSec'])

function formatExtra (key: string, value: Extra): string {
  if (typeof value === 'number') {
    // Naming convention of extras: *Rss and *Bytes are bytes, *PerSec are rates.
    if (/(rss|bytes)$/i.test(key)) return `${key}=${formatMB(value)}`
    if (/persec$/i.test(key)) return `${key}=${formatRate(value)}`
    return `${key}=${Number.isInteger(value) ? value : value.toPrecision(4)}`
  }
  return `${key}=${String(value)}`
}

function pad (s: string, width: number, right = false): string {
  return right ? s.padStart(width) : s.padEnd(width)
}

/** Renders the reports as plain-text tables, one per group. */
export function formatReports (reports: GroupReport[]): string {
  const lines: string[] = []
  for (const r of reports) {
    const vs = r.baseline !== undefined ? ` (ratio vs "${r.baseline}")` : ''
    lines.push('', `== ${r.title}${vs}`)
    if (r.goal !== undefined) lines.push(`   goal: ${r.goal}`)
    const width = Math.max(24, ...r.entries.map((e) => e.name.length)) + 2
    lines.push(pad('name', width) + pad('ops', 12, true) + pad('seconds', 10, true) +
      pad('rate', 16, true) + pad('ratio', 9, true) + '  extra')
    for (const e of r.entries) {
      if (e.result === undefined) {
        lines.push(pad(e.name, width) + (e.skipped !== undefined ? `  SKIPPED: ${e.skipped}` : `  FAILED: ${e.error ?? 'no result'}`))
        continue
      }
      const res = e.result
      const rate = formatResultRate(res)
      const extras = Object.entries(res).filter(([k, v]) => !CORE_KEYS.has(k) && v !== undefined)
      lines.push(pad(e.name, width) + pad(String(res.ops), 12, true) + pad(res.seconds.toFixed(3), 10, true) +
        pad(rate, 16, true) + pad(e.ratio !== undefined ? e.ratio.toFixed(2) + 'x' : '', 9, true) +
        '  ' + [
          ...Object.entries(e.ratiosVs ?? {}).map(([name, ratio]) => `vs(${name})=${ratio.toFixed(2)}x`),
          ...extras.map(([k, v]) => formatExtra(k, v))
        ].join(' '))
    }
  }
  return lines.join('\n')
}
