import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import test from 'tape'
import { tempDir, until } from './helpers.js'
import { MAIN, freePort, runCli, startNode } from './fixtures/net-helpers.js'

const READ = 'r3ad-only-token-0123456789'
const WRITE = 'wr1te-token-abcdefghijklmnop'

async function files (t: Parameters<typeof tempDir>[0]): Promise<{ server: string, write: string, read: string, open: string }> {
  const dir = await tempDir(t)
  const server = join(dir, 'tokens')
  await writeFile(server, `read ${READ}\nread-write ${WRITE}\n`, { mode: 0o600 })
  const write = join(dir, 'write.token')
  await writeFile(write, `${WRITE}\n`, { mode: 0o600 })
  const read = join(dir, 'read.token')
  await writeFile(read, `# a comment\nread ${READ}\n`, { mode: 0o600 })
  const open = join(dir, 'open.token')
  await writeFile(open, `${WRITE}\n`, { mode: 0o644 })
  return { server, write, read, open }
}

/** runCli with SCUTTLEDB_TOKEN set (execFile inherits the environment). */
async function withEnvToken (token: string, args: string[]): ReturnType<typeof runCli> {
  const saved = process.env.SCUTTLEDB_TOKEN
  process.env.SCUTTLEDB_TOKEN = token
  try {
    return await runCli(args)
  } finally {
    if (saved === undefined) delete process.env.SCUTTLEDB_TOKEN
    else process.env.SCUTTLEDB_TOKEN = saved
  }
}

test('client commands send a token from --token-file or SCUTTLEDB_TOKEN to a node with --http-token-file', async (t) => {
  const f = await files(t)
  const dir = await tempDir(t)
  const node = await startNode(t, ['--http-token-file', f.server])
  const n = ['--node', node.http]
  const refused = await runCli(['get', 'k', ...n])
  t.ok(refused.code === 1 && refused.stderr.includes('[SCUTTLEDB_UNAUTHORIZED]'), `no token: SCUTTLEDB_UNAUTHORIZED (${refused.stderr.trim()})`)
  t.equal((await runCli(['set', 'k', '{"a":1}', ...n, '--token-file', f.write])).code, 0, 'set with a read-write token file')
  t.deepEqual(await runCli(['get', 'k', ...n, '--token-file', f.read]), { code: 0, stdout: '{"a":1}\n', stderr: '' }, 'get with a read token file (its "read TOKEN" line)')
  const ls = await runCli(['ls', ...n, '--token-file', f.read])
  t.equal(ls.stdout, 'k\t{"a":1}\n', 'ls with a token')
  const forbidden = await runCli(['set', 'k', '2', ...n, '--token-file', f.read])
  t.ok(forbidden.code === 1 && forbidden.stderr.includes('[SCUTTLEDB_FORBIDDEN]'), 'a read token may not write: SCUTTLEDB_FORBIDDEN')
  const perms = await runCli(['get', 'k', ...n, '--token-file', f.open])
  t.ok(perms.code === 1 && perms.stderr.includes('[SCUTTLEDB_KEY_PERMISSIONS]'), 'a token file others can read is refused (SCUTTLEDB_KEY_PERMISSIONS)')
  const withDb = await runCli(['get', 'k', '--db', dir, '--token-file', f.read])
  t.ok(withDb.code === 2 && withDb.stderr.includes('[SCUTTLEDB_USAGE]'), '--token-file with --db is a usage error')
  const env = await withEnvToken(WRITE, ['get', 'k', ...n])
  t.equal(env.stdout, '{"a":1}\n', 'SCUTTLEDB_TOKEN is used without --token-file')
  const lines = join(dir, 'load.jsonl')
  await writeFile(lines, '{"key":"l1","value":1}\n{"key":"l2","value":2}\n')
  t.equal((await withEnvToken(WRITE, ['load', lines, ...n])).stdout, 'loaded 2 keys\n', 'load with SCUTTLEDB_TOKEN')
  const exportRefused = await runCli(['export', ...n, join(dir, 'no.backup')])
  t.ok(exportRefused.code === 1 && exportRefused.stderr.includes('[SCUTTLEDB_UNAUTHORIZED]'), 'GET /export needs a token')
  t.equal((await runCli(['export', ...n, '--token-file', f.read, join(dir, 'yes.backup')])).code, 0, 'a read token may export')
})

test('watch with a token resumes after the node restarts, with no change missed or repeated', async (t) => {
  const f = await files(t)
  const port = await freePort()
  const first = await startNode(t, ['--http-token-file', f.server, '--http', String(port)])
  const url = `http://127.0.0.1:${port}`
  const unauthorized = await runCli(['watch', '--node', url])
  t.ok(unauthorized.code === 1 && unauthorized.stderr.includes('[SCUTTLEDB_UNAUTHORIZED]'), 'watch without a token ends: SCUTTLEDB_UNAUTHORIZED')
  const watcher = spawn(process.execPath, [MAIN, 'watch', '--node', url, '--token-file', f.read], { stdio: ['ignore', 'pipe', 'pipe'] })
  t.teardown(() => { watcher.kill('SIGKILL') })
  let out = ''
  let err = ''
  watcher.stdout.setEncoding('utf8').on('data', (s: string) => { out += s })
  watcher.stderr.setEncoding('utf8').on('data', (s: string) => { err += s })
  const keys = (): string[] => out.split('\n').filter((l) => l !== '').map((l) => (JSON.parse(l) as { key: string }).key)
  t.ok(await until(() => err.includes('watching')), 'the watch is connected')
  t.equal((await runCli(['set', 'one', '1', '--node', url, '--token-file', f.write])).code, 0, 'a write')
  t.ok(await until(() => keys().length === 1), 'seen')
  await first.stop('SIGKILL')
  // Written while no node runs: the resumed watch must get it from storage.
  t.equal((await runCli(['set', 'two', '2', '--db', first.db])).code, 0, 'a write while the node is down')
  await startNode(t, ['--http-token-file', f.server, '--http', String(port)], { db: first.db })
  t.ok(await until(() => keys().length === 2, 15_000), `the watch resumed (${err.trim()})`)
  t.equal((await runCli(['set', 'three', '3', '--node', url, '--token-file', f.write])).code, 0, 'a write after the restart')
  t.ok(await until(() => keys().length === 3), 'seen live')
  t.deepEqual(keys(), ['one', 'two', 'three'], 'every change once, in order')
  t.ok(/resuming in \d+ ms/.test(err), 'it said it was resuming')
  watcher.kill('SIGKILL')
  await once(watcher, 'exit')
})
