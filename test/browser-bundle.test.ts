import test from 'tape'
import { copyFile, readFile, writeFile } from 'node:fs/promises'
import { transform } from 'esbuild'
import { join, resolve } from 'node:path'
import { gzipSync } from 'node:zlib'
import { bundle, installPacked, nodeImports } from './fixtures/browser-build.js'
import { tempDir } from './helpers.js'

/** Gzipped size above which the test fails: a guard against regressions, above the 50 KB goal (see the comment it prints). */
const GZIP_CEILING = 88 * 1024

const APP = `
import { Model, connectWebSocket } from 'scuttledb'
const model = new Model({ db: 'notes' })
await model.open()
const client = connectWebSocket(model, { url: 'ws://127.0.0.1:4100/' })
client.on('synced', async () => { console.log(await model.get('greeting')) })
`

test('an app importing scuttledb from the packed package bundles with plain esbuild --bundle --platform=browser, naming no node: module; its size is printed', async (t) => {
  const app = await installPacked(await tempDir(t))
  const entry = join(app, 'main.js')
  await writeFile(entry, APP)
  const plain = await bundle(app, entry)
  t.ok(plain.bytes > 0, `bundled (${plain.bytes} bytes unminified)`)
  t.deepEqual(nodeImports(plain.text), [], 'the bundle names no node: module')
  const inputs = Object.keys(plain.metafile.inputs)
  t.ok(inputs.some((file) => file.includes('node_modules/browser-level/')), 'level resolved to browser-level')
  t.notOk(inputs.some((file) => /node_modules\/(classic-level|ws)\//.test(file)), 'no classic-level or ws in the bundle')
  t.ok(inputs.some((file) => file.includes('node_modules/readable-stream/')), 'stream resolved to readable-stream')

  const minified = await bundle(app, entry, true)
  const kept = Object.entries(Object.values(minified.metafile.outputs)[0]?.inputs ?? {}).filter(([, { bytesInOutput }]) => bytesInOutput > 0).map(([file]) => file)
  t.notOk(kept.some((file) => file.includes('node_modules/@noble/')), 'an app that does not sign bundles no signing library')
  const gzip = gzipSync(minified.text, { level: 9 }).length
  const kb = (n: number): string => `${(n / 1024).toFixed(1)} KB`
  // What each package adds, so a regression shows where it came from: its share of the
  // minified bundle, and its minified code gzipped on its own (esbuild metafile).
  const sizes = new Map<string, { bytes: number, code: string }>()
  for (const [file, { bytesInOutput }] of Object.entries(Object.values(minified.metafile.outputs)[0]?.inputs ?? {})) {
    if (bytesInOutput === 0) continue
    const tail = file.includes('node_modules/') ? file.split('node_modules/').pop() as string : 'app'
    const name = tail === 'app' ? 'app' : tail.split('/').slice(0, tail.startsWith('@') ? 2 : 1).join('/')
    const { code } = await transform(await readFile(join(app, file), 'utf8'), { minify: true, loader: 'js', logLevel: 'silent' })
    const entry = sizes.get(name) ?? { bytes: 0, code: '' }
    sizes.set(name, { bytes: entry.bytes + bytesInOutput, code: entry.code + code })
  }
  const top = [...sizes].sort((a, b) => b[1].bytes - a[1].bytes).slice(0, 8)
    .map(([name, { bytes, code }]) => `${name} ${kb(bytes)} (${kb(gzipSync(code, { level: 9 }).length)} gzip)`).join(', ')
  t.comment(`bundle of Model + connectWebSocket on browser-level: ${kb(minified.bytes)} minified, ${kb(gzip)} gzip (goal 50 KB); by package, minified (gzipped alone): ${top}`)
  t.ok(gzip <= GZIP_CEILING, `${kb(gzip)} gzip is within ${kb(GZIP_CEILING)}`)
})

/** What every browser build on the fixed runtime choices carries: level (browser-level) with its buffer and events, and msgpackr. */
const FLOOR_APP = `
import { Level } from 'level'
import { pack, unpack } from 'msgpackr'
const db = new Level('notes', { valueEncoding: 'view' })
const docs = db.sublevel('d', { valueEncoding: 'view' })
const batch = docs.batch()
batch.put('k', pack(['k', 1]))
await batch.write()
for await (const [key, value] of docs.iterator({ gt: 'a' })) console.log(key, unpack(value))
`

test('the floor under the bundle size: the fixed runtime dependencies alone, and the app with no stream library at all, are printed', async (t) => {
  const app = await installPacked(await tempDir(t))
  const kb = (n: number): string => `${(n / 1024).toFixed(1)} KB`
  const gzip = (text: string): number => gzipSync(text, { level: 9 }).length
  const floorEntry = join(app, 'floor.js')
  await writeFile(floorEntry, FLOOR_APP)
  const floor = await bundle(app, floorEntry, true)
  const inputs = Object.keys(floor.metafile.inputs)
  t.ok(inputs.some((file) => file.includes('node_modules/browser-level/')) && inputs.some((file) => file.includes('node_modules/msgpackr/')), 'the floor app bundles browser-level and msgpackr')
  const entry = join(app, 'main.js')
  await writeFile(entry, APP)
  // The same app with Node's stream API stubbed out: it would not run, but it weighs what
  // scuttledb's own code and the fixed dependencies weigh, whatever stream library is chosen.
  const streamless = await bundle(app, entry, true, [{
    name: 'no-stream',
    setup (build) {
      build.onResolve({ filter: /^(stream|readable-stream)$/ }, () => ({ path: 'stream', namespace: 'no-stream' }))
      build.onLoad({ filter: /.*/, namespace: 'no-stream' }, () => ({ contents: 'export class Duplex {}; export class Transform {}; export function pipeline () {}', loader: 'js' }))
    }
  }])
  const full = await bundle(app, entry, true)
  t.ok(gzip(floor.text) < gzip(streamless.text) && gzip(streamless.text) < gzip(full.text), 'floor < app without a stream library < app')
  t.comment(`gzip: level + msgpackr alone ${kb(gzip(floor.text))}; the app without any stream library ${kb(gzip(streamless.text))}; the app ${kb(gzip(full.text))} (goal 50 KB)`)
})

test('the examples (examples/browser/app.js, examples/notes/app.js) bundle from the packed package', async (t) => {
  const app = await installPacked(await tempDir(t))
  for (const example of ['browser', 'notes']) {
    const entry = join(app, `${example}.js`)
    await copyFile(resolve(import.meta.dirname, '..', '..', 'examples', example, 'app.js'), entry)
    const out = await bundle(app, entry)
    t.ok(out.bytes > 0, `${example} bundled`)
    t.deepEqual(nodeImports(out.text), [], `${example} names no node: module`)
  }
})
