// The shell examples of docs/cli.md and docs/security.md marked
// `<!-- test: cli -->` work when pasted: the `--key` ones used to exit 2
// ("A node with --key needs --http-token-file FILE"). Each block runs in order
// in one directory per page (a later block uses an earlier one's keys), with
// `scuttledb` on PATH. A `scuttledb serve` line is started and must print
// `ready`; every other line must exit 0. Changes made so that the examples run
// here, and only here: their 4xxx ports become free ports, other hosts
// 127.0.0.1 (nothing leaves this machine), a serve without --port/--http gets
// free ones, and the files a marker lists as `given:` are made first.
// (test/docs-examples.test.ts checks the TypeScript blocks; it skips ```sh ones.)
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { copyFile, mkdir, readFile, writeFile, chmod } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import test, { type Test } from 'tape'
import { tempDir, until } from './helpers.js'
import { MAIN, freePort, runCli } from './fixtures/net-helpers.js'

const root = resolve(import.meta.dirname, '..', '..')
const MARKER = /^<!-- test: cli(?:, given: (.*?))? -->$/

interface Block { where: string, given: string[], lines: string[] }

/** The marked ```sh blocks of a page, as logical lines (continuations joined, comments and blanks dropped). */
async function blocks (page: string): Promise<Block[]> {
  const text = (await readFile(join(root, page), 'utf8')).split('\n')
  const found: Block[] = []
  for (let i = 1; i < text.length; i++) {
    const marker = MARKER.exec(text[i - 1])
    if (marker === null || text[i] !== '```sh') continue
    const start = i + 1
    const raw: string[] = []
    while (++i < text.length && text[i] !== '```') raw.push(text[i])
    const lines = raw.join('\n').replace(/\\\n\s*/g, '').split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'))
    found.push({ where: `${page}:${start}`, given: marker[1]?.split(/\s+/) ?? [], lines })
  }
  return found
}

/** A runner for one page's blocks: one directory, one environment, the nodes it started. */
class Page {
  readonly ports = new Map<string, number>()
  readonly env: NodeJS.ProcessEnv
  readonly nodes: ChildProcess[] = []

  constructor (readonly t: Test, readonly cwd: string, bin: string) {
    this.env = { ...process.env, PATH: `${bin}:${process.env.PATH ?? ''}` }
    delete this.env.SCUTTLEDB_TOKEN
    t.teardown(async () => { await this.stopNodes() })
  }

  /** The port that stands for the documented `port`. */
  async port (port: string): Promise<number> {
    if (!this.ports.has(port)) this.ports.set(port, await freePort())
    return this.ports.get(port) as number
  }

  async localize (line: string): Promise<string> {
    let out = line.replace(/\b(?:\d{1,3}\.){3}\d{1,3}\b/g, '127.0.0.1')
    for (const port of new Set(out.match(/\b4\d{3}\b/g) ?? [])) out = out.replaceAll(port, String(await this.port(port)))
    if (out.startsWith('scuttledb serve')) {
      if (!/--port\b/.test(out)) out += ` --port ${await freePort()}`
      if (!/--http\b/.test(out)) out += ` --http ${await freePort()}`
    }
    return out
  }

  async run (block: Block): Promise<void> {
    const { t } = this
    for (const doc of block.lines) {
      const line = await this.localize(doc)
      if (line.startsWith('scuttledb serve')) {
        await this.serve(line.replace(/\s*&$/, ''), `${block.where}: ${doc}`)
        continue
      }
      const exported = /^export (\w+)=/.exec(line)?.[1]
      // On a line of its own: the documented line may end in a comment.
      const script = exported === undefined ? line : `${line}\nprintf %s "$${exported}"`
      const res = await this.bash(script)
      t.equal(res.code, 0, `${block.where}: \`${doc}\` exits 0${res.code === 0 ? '' : ` (${res.stderr.trim()})`}`)
      if (exported !== undefined) this.env[exported] = res.stdout
    }
  }

  async bash (script: string): Promise<{ code: number | null, stdout: string, stderr: string }> {
    const child = spawn('bash', ['-c', script], { cwd: this.cwd, env: this.env, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (s: string) => { stdout += s })
    child.stderr.setEncoding('utf8').on('data', (s: string) => { stderr += s })
    const timer = setTimeout(() => { child.kill('SIGKILL') }, 30_000)
    const [code] = await once(child, 'exit') as [number | null]
    clearTimeout(timer)
    return { code, stdout, stderr }
  }

  /** Start a serve line (`exec`: the child is the node itself, killed with SIGKILL); it must print `ready`. */
  async serve (line: string, label: string): Promise<void> {
    const child = spawn('bash', ['-c', `exec ${line}`], { cwd: this.cwd, env: this.env, stdio: ['ignore', 'pipe', 'pipe'] })
    this.nodes.push(child)
    let stdout = ''
    let stderr = ''
    let exited = false
    child.stdout.setEncoding('utf8').on('data', (s: string) => { stdout += s })
    child.stderr.setEncoding('utf8').on('data', (s: string) => { stderr += s })
    child.once('exit', () => { exited = true })
    // Bounded: a node that neither becomes ready nor exits by then fails the assertion.
    await until(() => exited || stdout.includes('\nready\n'), 20_000)
    this.t.ok(!exited && stdout.includes('\nready\n'), `${label}: starts and prints ready${exited ? ` (it exited: ${stderr.trim()})` : ''}`)
  }

  async stopNodes (): Promise<void> {
    for (const node of this.nodes.splice(0)) {
      if (node.exitCode === null && node.signalCode === null) {
        node.kill('SIGKILL')
        await once(node, 'exit')
      }
    }
  }
}

async function setUp (t: Test): Promise<{ cwd: string, bin: string }> {
  const dir = await tempDir(t)
  const bin = join(dir, 'bin')
  const cwd = join(dir, 'work')
  await mkdir(bin)
  await mkdir(cwd)
  const wrapper = join(bin, 'scuttledb')
  await writeFile(wrapper, `#!/bin/sh\nexec "${process.execPath}" "${MAIN}" "$@"\n`)
  await chmod(wrapper, 0o755)
  return { cwd, bin }
}

/** Make the files a block takes as given (what another machine or step would provide). */
async function give (page: Page, files: string[]): Promise<void> {
  for (const file of files) {
    if (file.endsWith('.key.pub')) {
      const res = await runCli(['keygen', join(page.cwd, file.slice(0, -4))])
      page.t.equal(res.code, 0, `given ${file}: keygen`)
    } else if (file === 'tls.crt' || file === 'tls.key') {
      if (files.indexOf(file) !== files.findIndex((f) => f === 'tls.crt' || f === 'tls.key')) continue
      const res = await page.bash('openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 -subj /CN=localhost -addext subjectAltName=IP:127.0.0.1 -keyout tls.key -out tls.crt')
      page.t.equal(res.code, 0, 'given tls.crt and tls.key: openssl')
    } else if (file.endsWith('.crt')) {
      await copyFile(join(page.cwd, 'tls.crt'), join(page.cwd, file))
    } else {
      throw new Error(`no recipe for the given file ${file}`)
    }
  }
}

/** GET `key` through a node's HTTP API with the page's token. */
async function getValue (page: Page, httpPort: number, key: string): Promise<unknown> {
  // A node that is down (it failed to start: asserted above) reads as absent.
  const res = await fetch(`http://127.0.0.1:${httpPort}/kv/${key}`, { headers: { authorization: `Bearer ${page.env.SCUTTLEDB_TOKEN ?? ''}` } }).catch(() => undefined)
  return res?.status === 200 ? await res.json() : undefined
}

test('docs/cli.md: the --key and TLS examples run as written, and the nodes replicate signed writes', async (t) => {
  const found = await blocks('docs/cli.md')
  t.equal(found.length, 2, 'two marked blocks (keys and allow-lists; TLS)')
  const { cwd, bin } = await setUp(t)
  const page = new Page(t, cwd, bin)
  const [keys, tls] = found
  await page.run(keys)
  t.ok(await until(async () => await getValue(page, await page.port('4201'), 'greeting') === 'signed', 10_000), 'b has a\'s signed write')
  await page.stopNodes()
  await page.run(tls)
  const a = `127.0.0.1:${await page.port('4101')}`
  t.equal((await page.bash(`scuttledb set over-tls yes --node ${a}`)).code, 0, 'a write on a')
  t.ok(await until(async () => await getValue(page, await page.port('4201'), 'over-tls') === 'yes', 10_000), 'b gets it over TLS')
})

test('docs/security.md: the command-line example starts a node as written', async (t) => {
  const found = await blocks('docs/security.md')
  t.equal(found.length, 1, 'one marked block')
  const { cwd, bin } = await setUp(t)
  const page = new Page(t, cwd, bin)
  await give(page, found[0].given)
  await page.run(found[0])
})
