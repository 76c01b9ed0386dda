// A small, dependency-free SVG line chart for the scale simulation: rounds until
// every node has an update against the network size on a log axis, one dot per
// seed, the mean as a line, and a fitted a + b·log2(N) curve for comparison.

/** One network size's figures. */
export interface ScalePoint {
  nodes: number
  rounds: number[]
  messagesPerNode: number
}

const W = 640
const H = 400
const M = { left: 60, right: 30, top: 40, bottom: 60 }

function esc (s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
}

/** Least squares of y = a + b·x. */
function fit (xs: number[], ys: number[]): { a: number, b: number } {
  const n = xs.length
  const mx = xs.reduce((s, x) => s + x, 0) / n
  const my = ys.reduce((s, y) => s + y, 0) / n
  let num = 0
  let den = 0
  for (let i = 0; i < n; i++) {
    num += (xs[i] - mx) * (ys[i] - my)
    den += (xs[i] - mx) ** 2
  }
  const b = den === 0 ? 0 : num / den
  return { a: my - b * mx, b }
}

/** The chart as an SVG document. */
export function renderScaleSvg (points: ScalePoint[]): string {
  const xs = points.map((p) => Math.log2(p.nodes))
  const means = points.map((p) => p.rounds.reduce((s, r) => s + r, 0) / p.rounds.length)
  const lo = Math.log2(Math.min(...points.map((p) => p.nodes)) / 1.5)
  const hi = Math.log2(Math.max(...points.map((p) => p.nodes)) * 1.5)
  const ymax = Math.ceil(Math.max(...points.flatMap((p) => p.rounds)) * 1.25) + 1
  const px = (x: number): number => M.left + (x - lo) / (hi - lo) * (W - M.left - M.right)
  const py = (y: number): number => H - M.bottom - y / ymax * (H - M.top - M.bottom)
  const out: string[] = []
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`)
  out.push(`<rect width="${W}" height="${H}" fill="white"/>`)
  out.push(`<text x="${W / 2}" y="22" text-anchor="middle" font-size="14">Rounds until every node has one update (push-pull gossip, real Models)</text>`)
  // Axes and grid.
  out.push(`<line x1="${M.left}" y1="${H - M.bottom}" x2="${W - M.right}" y2="${H - M.bottom}" stroke="black"/>`)
  out.push(`<line x1="${M.left}" y1="${M.top}" x2="${M.left}" y2="${H - M.bottom}" stroke="black"/>`)
  for (let y = 0; y <= ymax; y += ymax > 12 ? 2 : 1) {
    out.push(`<line x1="${M.left}" y1="${py(y).toFixed(1)}" x2="${W - M.right}" y2="${py(y).toFixed(1)}" stroke="#ddd"/>`)
    out.push(`<text x="${M.left - 8}" y="${(py(y) + 4).toFixed(1)}" text-anchor="end">${y}</text>`)
  }
  for (const ticks of [30, 100, 300, 1000, 3000, 10000]) {
    const x = Math.log2(ticks)
    if (x < lo || x > hi) continue
    out.push(`<line x1="${px(x).toFixed(1)}" y1="${H - M.bottom}" x2="${px(x).toFixed(1)}" y2="${H - M.bottom + 5}" stroke="black"/>`)
    out.push(`<text x="${px(x).toFixed(1)}" y="${H - M.bottom + 20}" text-anchor="middle">${ticks.toLocaleString('en-US')}</text>`)
  }
  out.push(`<text x="${W / 2}" y="${H - 15}" text-anchor="middle">nodes (log scale)</text>`)
  out.push(`<text transform="translate(18 ${H / 2}) rotate(-90)" text-anchor="middle">rounds</text>`)
  // Fitted a + b·log2 N over every run.
  const { a, b } = fit(points.flatMap((p, i) => p.rounds.map(() => xs[i])), points.flatMap((p) => p.rounds))
  const curve: string[] = []
  for (let k = 0; k <= 40; k++) {
    const x = lo + (hi - lo) * k / 40
    curve.push(`${px(x).toFixed(1)},${py(a + b * x).toFixed(1)}`)
  }
  out.push(`<polyline points="${curve.join(' ')}" fill="none" stroke="#999" stroke-dasharray="5 4"/>`)
  out.push(`<text x="${W - M.right}" y="${M.top + 12}" text-anchor="end" fill="#666">${esc(`fit: ${a.toFixed(2)} + ${b.toFixed(2)}·log2 N`)}</text>`)
  // Mean line, dots per seed, labels.
  out.push(`<polyline points="${points.map((_, i) => `${px(xs[i]).toFixed(1)},${py(means[i]).toFixed(1)}`).join(' ')}" fill="none" stroke="#1f77b4" stroke-width="2"/>`)
  points.forEach((p, i) => {
    for (const r of p.rounds) out.push(`<circle cx="${px(xs[i]).toFixed(1)}" cy="${py(r).toFixed(1)}" r="4" fill="#1f77b4" fill-opacity="0.5"/>`)
    out.push(`<text x="${px(xs[i]).toFixed(1)}" y="${(py(means[i]) - 12).toFixed(1)}" text-anchor="middle">${esc(`${means[i].toFixed(1)} rounds, ${p.messagesPerNode.toFixed(0)} msgs/node`)}</text>`)
  })
  out.push('</svg>')
  return out.join('\n') + '\n'
}
