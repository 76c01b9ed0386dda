// The bench's SVG chart (bench/chart.ts) on a fixed results object: no timing.
import test from 'tape'
import { barKind, renderChart } from '../bench/chart.js'
import type { GroupReport } from '../bench/registry.js'

const sample: GroupReport[] = [
  {
    group: 'writes',
    title: 'durable local writes',
    baseline: 'raw chained batch',
    entries: [
      { name: 'raw chained batch', ratio: 1, result: { name: 'raw chained batch', ops: 1000, seconds: 0.005, opsPerSec: 200_000, unit: 'entries' } },
      { name: 'scuttledb set()', ratio: 0.34, result: { name: 'scuttledb set()', ops: 1000, seconds: 0.015, opsPerSec: 66_800, unit: 'entries' } },
      { name: 'pouchdb bulkDocs() <1000 & "more">', ratio: 0.05, result: { name: 'pouchdb', ops: 1000, seconds: 0.1, opsPerSec: 10_000, unit: 'docs' } },
      { name: 'yjs + y-leveldb storeUpdate()', skipped: 'not installed: run npm run bench:peers' }
    ]
  },
  {
    group: 'reopen',
    title: 'reopen time',
    baseline: 'reopen (1000 updates)',
    entries: [
      { name: 'reopen (1000 updates)', ratio: 1, result: { name: 'r', ops: 1, seconds: 0.002, opsPerSec: 500, unit: 'opens' } },
      { name: 'yjs getYDoc() reopen', error: 'boom' }
    ]
  },
  {
    group: 'transport',
    title: 'transport reference',
    entries: [{ name: 'loopback tcp', result: { name: 'loopback tcp', ops: 1e9, seconds: 1, opsPerSec: 1e9, unit: 'bytes' } }]
  }
]

/** Checks that every tag is closed in order and that text holds no bare '<' or '&'. */
function wellFormed (svg: string): string | undefined {
  const stack: string[] = []
  const tag = /<(\/?)([a-zA-Z][\w:-]*)((?:\s+[\w:-]+="[^"<]*")*)\s*(\/?)>/g
  let last = 0
  for (let m = tag.exec(svg); m !== null; m = tag.exec(svg)) {
    const between = svg.slice(last, m.index)
    if (/[<>]|&(?!(amp|lt|gt|quot|#39);)/.test(between)) return `bad character data before offset ${m.index}: ${between}`
    last = m.index + m[0].length
    const [, closing, name, , selfClosing] = m as unknown as [string, string, string, string, string]
    if (closing === '/') {
      if (stack.pop() !== name) return `unbalanced </${name}> at offset ${m.index}`
    } else if (selfClosing !== '/') {
      stack.push(name)
    }
  }
  if (svg.slice(last).trim() !== '') return 'text after the root element'
  return stack.length === 0 ? undefined : `unclosed <${stack.join('>, <')}>`
}

test('the bench chart is a well-formed SVG document with one labelled bar per measured entry', (t) => {
  const svg = renderChart({ groups: sample, subtitle: 'run of a sample & nothing else' })
  t.ok(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"'), 'an svg root in the SVG namespace')
  t.equal(wellFormed(svg), undefined, 'tags balance and text is escaped')
  t.notOk(/NaN|Infinity|undefined/.test(svg), 'no NaN, Infinity or undefined in coordinates or labels')
  t.equal((svg.match(/<rect [^>]*><title>/g) ?? []).length, 4, 'a bar for each of the four measured rates')
  t.ok(svg.includes('pouchdb bulkDocs() &lt;1000 &amp; &quot;more&quot;&gt;'), 'names are escaped, not dropped')
  t.ok(svg.includes('skipped: not installed: run npm run bench:peers'), 'a skipped entry says why')
  t.ok(svg.includes('failed: boom'), 'a failed entry says so')
  t.ok(svg.includes('0.34x'), 'bars carry their ratio to the baseline')
  t.ok(svg.includes('2.00 ms per open'), 'opens are labelled as time per open')
  t.notOk(svg.includes('loopback tcp'), 'byte-rate groups are left out')
  t.end()
})

test('the bench chart draws an empty results object as a valid document', (t) => {
  const svg = renderChart({ groups: [] })
  t.equal(wellFormed(svg), undefined)
  t.end()
})

test('bars are coloured by who they measure', (t) => {
  t.equal(barKind('scuttledb set()'), 'scuttledb')
  t.equal(barKind('reopen (1000 updates)'), 'scuttledb')
  t.equal(barKind('pouchdb replicate() (in process)'), 'pouchdb')
  t.equal(barKind('yjs state-vector sync (in process)'), 'yjs')
  t.equal(barKind('original live (tcp)'), 'reference')
  t.end()
})
