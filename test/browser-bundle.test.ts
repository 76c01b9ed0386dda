import test from 'tape'
import { copyFile, readFile, writeFile } from 'node:fs/promises'
import { transform } from 'esbuild'
import { join, resolve } from 'node:path'
import { gzipSync } from 'node:zlib'
import { bundle, installPacked, nodeImports } from './fixtures/browser-build.js'
import { tempDir } from './helpers.js'

/** Gzipped size above which the test fails: a guard against regressions, above the 50 KB goal (see the comment it prints). */
const GZIP_CEILING = 80 * 1024

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
