import test, { type Test } from 'tape'
import { readdir, readFile, writeFile } from 'node:fs/promises'
import { createServer } from 'node:http'
import { extname, join, normalize } from 'node:path'
import { gzipSync } from 'node:zlib'
import { build as viteBuild } from 'vite'
import webpack from 'webpack'
import { addFixture, installPacked, nodeImports } from './fixtures/browser-build.js'
import { call, finish, launch, nodeAt, nodeValue, openPage } from './fixtures/browser-pages.js'
import { tempDir } from './helpers.js'

// Issue #12: an app importing scuttledb builds with zero configuration in Vite and webpack 5
// (esbuild: test/browser-bundle.test.ts), with no aliases, polyfill plugins or injected
// globals, and the built page really runs: it syncs with a Node node in Chromium.

/** Every file under `dir` (one level of subfolders, as both bundlers write), as paths relative to it. */
async function files (dir: string): Promise<string[]> {
  return (await readdir(dir, { recursive: true, withFileTypes: true }))
    .filter((entry) => entry.isFile())
    .map((entry) => join(entry.parentPath, entry.name).slice(dir.length + 1))
}

/** The built JavaScript's total size, minified as each bundler's production build leaves it, and gzipped. */
async function sizes (dir: string): Promise<{ text: string, label: string }> {
  let text = ''
  for (const file of await files(dir)) if (extname(file) === '.js') text += await readFile(join(dir, file), 'utf8')
  const kb = (n: number): string => `${(n / 1024).toFixed(1)} KB`
  return { text, label: `${kb(Buffer.byteLength(text))} minified, ${kb(gzipSync(text, { level: 9 }).length)} gzip` }
}

const TYPES: Record<string, string> = { '.html': 'text/html', '.js': 'text/javascript' }

/** Serve the files under `dir` from 127.0.0.1 until the test ends ('/' is index.html); resolves with its URL. */
async function serveDir (t: Test, dir: string): Promise<string> {
  const server = createServer((req, res) => {
    const { pathname } = new URL(req.url ?? '/', 'http://127.0.0.1')
    const path = normalize(pathname === '/' ? 'index.html' : pathname.slice(1))
    // Only files under dir: a test server, but still not one that reads anything it is asked for.
    const read = path.startsWith('..') ? Promise.reject(new Error('outside')) : readFile(join(dir, path))
    read.then((body) => {
      res.writeHead(200, { 'content-type': TYPES[extname(path)] ?? 'application/octet-stream' })
      res.end(body)
    }, () => {
      res.writeHead(404)
      res.end()
    })
  })
  await new Promise<void>((resolve) => { server.listen(0, '127.0.0.1', resolve) })
  t.teardown(() => { server.close() })
  return `http://127.0.0.1:${(server.address() as { port: number }).port}/`
}

/** Check which packages the build resolved, given every file it read: level's browser entry, readable-stream for `stream`, no Node-only part. */
function resolvedForBrowser (t: Test, inputs: string[]): void {
  t.ok(inputs.some((file) => file.includes('node_modules/browser-level/')), 'level resolved to browser-level')
  t.ok(inputs.some((file) => file.includes('node_modules/readable-stream/')), 'stream resolved to readable-stream')
  t.ok(inputs.some((file) => /node_modules\/scuttledb\/dist\/browser\.js$/.test(file)), 'scuttledb resolved to its browser entry')
  t.notOk(inputs.some((file) => /node_modules\/(classic-level|ws)\/|node_modules\/scuttledb\/dist\/index\.js$/.test(file)), 'no classic-level, ws or Node entry')
}

/** The built page, in Chromium, syncs a key each way with a Node node on classic-level over WebSocket. */
async function syncsBothWays (t: Test, url: string, name: string): Promise<void> {
  const browser = await launch(t)
  const node = await nodeAt(t, await tempDir(t))
  await node.model.set('fromNode', `node to ${name}`)
  const page = await openPage(t, browser, url)
  await call(page, 'open', `db-${name}`)
  await call(page, 'set', 'fromPage', `${name} to node`)
  await call(page, 'connect', node.server.address.url, 50, 200)
  await call(page, 'synced', 1)
  t.equal(await call(page, 'get', 'fromNode'), `node to ${name}`, 'the page has the node\'s value')
  t.equal(await nodeValue(node.model, 'fromPage', `${name} to node`), `${name} to node`, 'the node has the page\'s value')
  await node.model.set('live', 'yes')
  t.equal(await call(page, 'valueOf', 'live', 'yes'), 'yes', 'a live update reaches the page')
  await finish(t, page)
}

test('an app importing scuttledb from the packed package builds with Vite\'s default config (no plugins, aliases or defines), names no node: module, and syncs with a Node node in Chromium', async (t) => {
  const app = await installPacked(await tempDir(t))
  await addFixture(app, 'bundler-app')
  // Vite's default entry is the root's index.html.
  await writeFile(join(app, 'index.html'), '<!doctype html><meta charset="utf-8"><title>scuttledb</title><script type="module" src="/bundler-app.js"></script>')
  const out = join(app, 'dist')
  const result = await viteBuild({ root: app, logLevel: 'silent', build: { outDir: out } })
  const outputs = Array.isArray(result) ? result : 'output' in result ? [result] : []
  resolvedForBrowser(t, outputs.flatMap(({ output }) => output.flatMap((chunk) => chunk.type === 'chunk' ? chunk.moduleIds : [])))
  const built = await files(out)
  t.ok(built.includes('index.html') && built.some((file) => extname(file) === '.js'), `built ${built.join(', ')}`)
  const { text, label } = await sizes(out)
  t.deepEqual(nodeImports(text), [], 'the build names no node: module')
  t.comment(`Vite build of Model + connectWebSocket on BrowserLevel: ${label}`)
  await syncsBothWays(t, await serveDir(t, out), 'vite')
})

test('an app importing scuttledb from the packed package builds with webpack 5\'s zero config (mode, entry, output path only) without errors, names no node: module, and syncs with a Node node in Chromium', async (t) => {
  const app = await installPacked(await tempDir(t))
  const entry = await addFixture(app, 'bundler-app')
  const out = join(app, 'dist')
  const stats = await new Promise<webpack.Stats>((resolve, reject) => {
    // The callback form runs once and closes the compiler.
    webpack({ mode: 'production', entry, output: { path: out } }, (err, result) => {
      if (err != null || result === undefined) reject(err ?? new Error('webpack gave no stats'))
      else resolve(result)
    })
  })
  const { errors = [], warnings = [] } = stats.toJson({ all: false, errors: true, warnings: true })
  const firstLines = [...new Set(errors.map((e) => e.message.split('\n')[0] as string))]
  t.notOk(stats.hasErrors(), `no errors${firstLines.length > 0 ? `: ${firstLines.join('; ')}` : ''}`)
  if (stats.hasErrors()) return
  // Warnings do not fail the build (webpack's size hint is one); they are printed to be seen.
  for (const warning of warnings) t.comment(`webpack warning: ${warning.message.split('\n')[0] as string}`)
  resolvedForBrowser(t, [...stats.compilation.fileDependencies])
  const { text, label } = await sizes(out)
  t.ok(text.length > 0, 'built main.js')
  t.deepEqual(nodeImports(text), [], 'the build names no node: module')
  t.comment(`webpack build of Model + connectWebSocket on BrowserLevel: ${label}`)
  // webpack builds a script, not a page: the page is the app's own.
  await writeFile(join(out, 'index.html'), '<!doctype html><meta charset="utf-8"><title>scuttledb</title><script src="/main.js"></script>')
  await syncsBothWays(t, await serveDir(t, out), 'webpack')
})
