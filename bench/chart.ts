// A hand-written SVG bar chart of one bench run (no charting dependency): one panel
// per workload group, one horizontal bar per entry on a log scale of its own, each
// labelled with its rate and its ratio to the group's baseline. run.ts writes it
// next to docs/benchmarks.md; `node dist-test/bench/chart.js [results.json] [out.svg]
// [note]` redraws it from a results file.
import { readFile, writeFile } from 'node:fs/promises'
import { fileURLToPath, pathToFileURL } from 'node:url'
import type { GroupReport } from './registry.js'
import { formatRate } from './util.js'

/** What the chart is drawn from: results.json's groups and a line about the run. */
export interface ChartInput {
  groups: GroupReport[]
  /** Printed under the title (date, machine, provisional or not). */
  subtitle?: string
}

/** Who a bar belongs to, by its entry's name; sets its colour. */
export type BarKind = 'scuttledb' | 'pouchdb' | 'yjs' | 'reference'

const COLOURS: Record<BarKind, string> = {
  scuttledb: '#2b6cb0',
  pouchdb: '#dd6b20',
  yjs: '#2f855a',
  reference: '#a0aec0'
}

const LEGEND: Array<[BarKind, string]> = [
  ['scuttledb', 'scuttledb'],
  ['pouchdb', 'PouchDB 9 (LevelDB)'],
  ['yjs', 'Yjs + y-leveldb'],
  ['reference', 'baseline / original scuttlebutt']
]

/** The kind of an entry, from the naming of bench/*.ts registrations. */
export function barKind (name: string): BarKind {
  const n = name.toLowerCase()
  if (n.startsWith('pouchdb')) return 'pouchdb'
  if (n.startsWith('yjs')) return 'yjs'
  if (n.includes('scuttledb') || n.startsWith('reopen (') || n.startsWith('signed') || n.startsWith('unsigned')) return 'scuttledb'
  return 'reference'
}

/** Escapes text for SVG character data and attribute values. */
export function escapeXml (s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string)
}

const WIDTH = 980
const LABEL_W = 370
const BAR_W = 400
const ROW_H = 20
const BAR_H = 14
const PANEL_GAP = 18
const HEAD_H = 22
const AXIS_H = 18

function unitOf (group: GroupReport): string {
  const unit = group.entries.find((e) => e.result?.unit !== undefined)?.result?.unit
  return unit ?? 'ops'
}

/** A short rate: 66.8k/s, or 3.4 ms per open for the reopen group's opens. */
function rateLabel (opsPerSec: number, unit: string): string {
  if (unit === 'opens') return opsPerSec >= 1 ? `${(1000 / opsPerSec).toPrecision(3)} ms per open` : `${(1 / opsPerSec).toPrecision(3)} s per open`
  return formatRate(opsPerSec, ` ${unit}/s`)
}

function tickLabel (v: number): string {
  if (v >= 1e9) return `${v / 1e9}G`
  if (v >= 1e6) return `${v / 1e6}M`
  if (v >= 1e3) return `${v / 1e3}k`
  return String(v)
}

/** Splits text into lines of at most `width` characters at spaces (SVG text does not wrap). */
function wrap (s: string, width: number): string[] {
  const lines: string[] = []
  let line = ''
  for (const word of s.split(' ').filter((w) => w !== '')) {
    if (line !== '' && line.length + 1 + word.length > width) { lines.push(line); line = '' }
    line = line === '' ? word : line + ' ' + word
  }
  if (line !== '') lines.push(line)
  return lines
}

/** Groups worth plotting: rates per second of updates/docs/opens, not bytes of a transport. */
function plottable (groups: GroupReport[]): GroupReport[] {
  return groups.filter((g) => g.entries.length > 0 && g.entries.every((e) => e.result?.unit !== 'bytes'))
}

/** Renders the chart as a standalone SVG document. */
export function renderChart ({ groups, subtitle }: ChartInput): string {
  const panels = plottable(groups)
  const out: string[] = []
  let y = 0
  const text = (x: number, ty: number, s: string, attrs = ''): void => {
    out.push(`<text x="${x.toFixed(1)}" y="${ty.toFixed(1)}"${attrs === '' ? '' : ' ' + attrs}>${escapeXml(s)}</text>`)
  }
  y += 24
  text(10, y, 'scuttledb and the stores users compare it with: throughput per workload', 'class="title"')
  y += 18
  text(10, y, 'Higher is better. Log scale per panel; each bar is labelled with its rate and its ratio to the panel\'s baseline.', 'class="note"')
  for (const line of wrap(subtitle ?? '', 150)) { y += 16; text(10, y, line, 'class="note"') }
  y += 20
  let lx = 10
  for (const [kind, label] of LEGEND) {
    out.push(`<rect x="${lx}" y="${y - 11}" width="12" height="12" fill="${COLOURS[kind]}"/>`)
    text(lx + 17, y, label, 'class="legend"')
    lx += 40 + label.length * 7
  }
  y += 10
  for (const group of panels) {
    y += PANEL_GAP
    const unit = unitOf(group)
    const rates = group.entries.map((e) => e.result?.opsPerSec).filter((r): r is number => r !== undefined && r > 0 && Number.isFinite(r))
    // A decade below the smallest rate's half, so that every bar has a visible length.
    const lo = rates.length > 0 ? 10 ** Math.floor(Math.log10(Math.min(...rates) / 2)) : 1
    let hi = rates.length > 0 ? 10 ** Math.ceil(Math.log10(Math.max(...rates))) : 10
    if (hi <= lo) hi = lo * 10
    const scale = (v: number): number => BAR_W * (Math.log10(v) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo))
    y += HEAD_H - 6
    const per = unit === 'opens' ? 'opens per second' : `${unit} per second`
    text(10, y, `${group.title} (${per})`, 'class="panel"')
    y += 8
    // Ratios against the baseline when it ran, else against the group's first alsoVs row.
    const hasBase = group.entries.some((e) => e.ratio !== undefined && e.name !== group.baseline)
    const ref = hasBase ? group.baseline : Object.keys(group.entries.find((e) => e.ratiosVs !== undefined)?.ratiosVs ?? {})[0]
    const ratioOf = (e: GroupReport['entries'][number]): number | undefined => hasBase ? e.ratio : (ref !== undefined ? e.ratiosVs?.[ref] : undefined)
    const top = y
    const gridAt = out.length
    for (const e of group.entries) {
      const cy = y + ROW_H / 2
      text(LABEL_W - 8, cy + 4, e.name, 'class="label" text-anchor="end"')
      const res = e.result
      if (res === undefined || !(res.opsPerSec > 0) || !Number.isFinite(res.opsPerSec)) {
        const why = e.skipped !== undefined ? `skipped: ${e.skipped}` : `failed: ${e.error ?? 'no result'}`
        text(LABEL_W + 4, cy + 4, why, 'class="missing"')
      } else {
        const w = Math.max(1, scale(res.opsPerSec))
        const kind = barKind(e.name)
        out.push(`<rect x="${LABEL_W}" y="${(cy - BAR_H / 2).toFixed(1)}" width="${w.toFixed(1)}" height="${BAR_H}" fill="${COLOURS[kind]}"><title>${escapeXml(`${e.name}: ${rateLabel(res.opsPerSec, unit)}`)}</title></rect>`)
        const r = ratioOf(e)
        const ratio = r !== undefined && e.name !== ref ? ` · ${r.toFixed(2)}x` : ''
        text(LABEL_W + w + 5, cy + 4, rateLabel(res.opsPerSec, res.unit ?? unit) + ratio, 'class="value"')
      }
      y += ROW_H
    }
    // Decade ticks under the panel, with faint grid lines behind its bars.
    const grid: string[] = []
    for (let v = lo; v <= hi * 1.0001; v *= 10) {
      const x = LABEL_W + scale(v)
      grid.push(`<line x1="${x.toFixed(1)}" y1="${top}" x2="${x.toFixed(1)}" y2="${y + 4}" class="grid"/>`)
      text(x, y + 15, tickLabel(v), 'class="tick" text-anchor="middle"')
    }
    out.splice(gridAt, 0, ...grid)
    y += AXIS_H
    if (ref !== undefined) text(LABEL_W, y + 10, `ratios vs "${ref}"`, 'class="tick"')
    y += 10
  }
  y += 14
  const style = [
    'text { font-family: Helvetica, Arial, sans-serif; fill: #1a202c; }',
    '.title { font-size: 16px; font-weight: bold; }',
    '.note, .tick { font-size: 11px; fill: #4a5568; }',
    '.legend, .label, .value { font-size: 12px; }',
    '.panel { font-size: 13px; font-weight: bold; }',
    '.missing { font-size: 12px; font-style: italic; fill: #718096; }',
    '.grid { stroke: #e2e8f0; stroke-width: 1; }'
  ].join(' ')
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${y}" viewBox="0 0 ${WIDTH} ${y}" role="img">`,
    `<style>${style}</style>`,
    `<rect width="${WIDTH}" height="${y}" fill="#ffffff"/>`,
    ...out,
    '</svg>',
    ''
  ].join('\n')
}

/** The subtitle of a results.json: when, where, and whether it is a partial run. */
export function describeRun (results: { date?: string, quick?: boolean, argv?: string[], machine?: { node?: string, cpus?: number, cpuModel?: string } }): string {
  const parts = [`run ${results.date ?? 'of unknown date'}`]
  if (results.machine !== undefined) parts.push(`${results.machine.cpus ?? '?'} cpus (${results.machine.cpuModel ?? '?'}), node ${results.machine.node ?? '?'}`)
  if (results.quick === true) parts.push('--quick sizes: not comparable')
  // Where the files went is no property of the run.
  const args = (results.argv ?? []).filter((a, i, all) => !/^--(json|chart)/.test(a) && !/^--(json|chart)$/.test(all[i - 1] ?? ''))
  if (args.length > 0) parts.push(`args: ${args.join(' ')}`)
  return parts.join(' · ')
}

async function main (): Promise<void> {
  const input = process.argv[2] ?? fileURLToPath(new URL('../../bench/results.json', import.meta.url))
  const output = process.argv[3] ?? fileURLToPath(new URL('../../docs/benchmarks.svg', import.meta.url))
  // A third argument is a note for the reader, put before the run's description.
  const note = process.argv[4]
  const results = JSON.parse(await readFile(input, 'utf8')) as { groups: GroupReport[] } & Parameters<typeof describeRun>[0]
  const subtitle = (note !== undefined ? note + ' · ' : '') + describeRun(results)
  await writeFile(output, renderChart({ groups: results.groups, subtitle }))
  console.log(`chart written to ${output}`)
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err: unknown) => {
    console.error(err)
    process.exitCode = 1
  })
}
