import test, { type Test } from 'tape'
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { launch } from './fixtures/browser-pages.js'
import { tempDir } from './helpers.js'

const root = resolve(import.meta.dirname, '..', '..')
/** The README's screenshot: rewritten when missing or with UPDATE_SCREENSHOTS=1 (else taken to a temp dir), so a test run leaves the tree clean. */
const SCREENSHOT = join(root, 'docs', 'example-notes.png')

/** `node examples/notes/serve.js` on free ports, killed with SIGKILL at the end; resolves with its HTTP URL once ready. */
async function startExample (t: Test): Promise<string> {
  const db = join(await tempDir(t), 'notes')
  const child = spawn(process.execPath, [join(root, 'examples', 'notes', 'serve.js'), '--db', db, '--port', '0', '--ws', '0', '--http', '0'], { stdio: ['ignore', 'pipe', 'pipe'] })
  t.teardown(() => { child.kill('SIGKILL') })
  let out = ''
  child.stderr.setEncoding('utf8').on('data', (s: string) => { out += s })
  return await new Promise<string>((resolve, reject) => {
    child.stdout.setEncoding('utf8').on('data', (s: string) => {
      out += s
      const url = /http +(http:\/\/\S+)/.exec(out)?.[1]
      if (out.includes('ready\n') && url !== undefined) resolve(url)
    })
    child.once('exit', (code) => { reject(new Error(`serve.js exited (${String(code)}) before it was ready: ${out}`)) })
  })
}

/** The texts of the notes the node holds (over its HTTP API). */
async function nodeNotes (http: string): Promise<string[]> {
  const page = await (await fetch(`${http}/kv?prefix=note:`)).json() as { items: Array<{ value: { text: string } }> }
  return page.items.map((entry) => entry.value.text).sort()
}

/** Resolves with the node's notes once `ready` holds for them; the last ones seen after 20 s. */
async function nodeNotesUntil (http: string, ready: (notes: string[]) => boolean): Promise<string[]> {
  const started = Date.now()
  for (;;) {
    const notes = await nodeNotes(http)
    if (ready(notes) || Date.now() - started > 20_000) return notes
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

test('the notes example (node examples/notes/serve.js): the node serves the page, a note written offline reaches the node once back online', async (t) => {
  const http = await startExample(t)
  const browser = await launch(t)
  const context = await browser.newContext({ viewport: { width: 640, height: 420 } })
  const page = await context.newPage()
  const errors: string[] = []
  page.on('pageerror', (err) => { errors.push(String(err)) })
  await page.goto(http)
  await page.waitForSelector('#status.synced', { timeout: 20_000 })
  t.pass('the page the node served synced with it')
  await page.fill('#text', 'Buy oat milk')
  await page.click('#add button')
  t.deepEqual(await nodeNotesUntil(http, (n) => n.length === 1), ['Buy oat milk'], 'an online note reaches the node')

  await context.setOffline(true)
  await page.waitForSelector('#status.offline')
  await page.fill('#text', 'Written on the train')
  await page.click('#add button')
  await page.waitForFunction(() => (globalThis as any).document.getElementById('notes').dataset.count === '2')
  t.pass('offline, the note is written to IndexedDB and listed')
  t.equal(await page.evaluate(() => (globalThis as any).notesApp.client), undefined, 'the page stopped syncing when the browser went offline')
  t.deepEqual(await nodeNotes(http), ['Buy oat milk'], 'and the node does not have the offline note yet')

  await context.setOffline(false)
  await page.waitForSelector('#status.synced', { timeout: 20_000 })
  t.deepEqual(await nodeNotesUntil(http, (n) => n.length === 2), ['Buy oat milk', 'Written on the train'], 'back online, the node has the note written offline')
  await page.fill('#text', 'Call Ada about the release')
  await page.click('#add button')
  await nodeNotesUntil(http, (n) => n.length === 3)
  const shot = process.env.UPDATE_SCREENSHOTS === '1' || !existsSync(SCREENSHOT) ? SCREENSHOT : join(await tempDir(t), 'notes.png')
  const png = await page.screenshot({ path: shot })
  t.deepEqual([...png.subarray(1, 4)], [0x50, 0x4e, 0x47], `a screenshot (${shot === SCREENSHOT ? 'docs/example-notes.png' : 'a temp file'})`)
  t.deepEqual(errors, [], 'no uncaught error in the page')
})

test('serve --static answers GET and HEAD with the files under its directory only, and API routes and 404s as before', async (t) => {
  const http = await startExample(t)
  const { request } = await import('node:http')
  /** A request with `path` sent as written (fetch would normalise the dots away). */
  const get = async (path: string, method = 'GET'): Promise<[number, string, string]> => await new Promise((resolve, reject) => {
    const req = request(`${http}${path}`, { method }, (res) => {
      let body = ''
      res.setEncoding('utf8').on('data', (s: string) => { body += s }).on('end', () => { resolve([res.statusCode ?? 0, String(res.headers['content-type']), body]) })
    })
    req.path = path
    req.on('error', reject).end()
  })
  const [status, type, body] = await get('/')
  t.deepEqual([status, type, body.includes('<title>scuttledb notes</title>')], [200, 'text/html; charset=utf-8', true], '/ is index.html')
  t.equal((await get('/app.js', 'HEAD'))[0], 200, 'HEAD of the bundle')
  t.equal((await get('/status'))[1], 'application/json; charset=utf-8', 'an API route is still the API')
  for (const path of ['/../package.json', '/%2e%2e/package.json', '/..%2fpackage.json', '/..%5cpackage.json', '/nothing-here.js']) {
    const [code, , text] = await get(path)
    t.deepEqual([code, (JSON.parse(text) as { error: { code: string } }).error.code], [404, 'SCUTTLEDB_NOT_FOUND'], `${path}: 404, coded`)
  }
  t.equal((await get('/index.html', 'DELETE'))[0], 404, 'no other method reaches the files')
})
