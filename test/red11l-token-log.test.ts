// Red team round 11, area l (security): a token passed as ?access_token= (what a
// browser's EventSource must do) is a secret; the HTTP API's log line for a
// request that failed must not print it.
import { chmod, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import test from 'tape'
import { tempDir } from './helpers.js'
import { startNode } from './fixtures/net-helpers.js'

const WRITE = 'wr1te-token-abcdefghijklmnop'

test('a failed request made with ?access_token= does not write the token to the log', async (t) => {
  const dir = await tempDir(t)
  const tokens = join(dir, 'tokens')
  await writeFile(tokens, `read-write ${WRITE}\n`, { mode: 0o600 })
  await chmod(tokens, 0o600)
  const node = await startNode(t, ['--http-token-file', tokens])
  const attempts: Array<[string, string, unknown]> = [
    ['POST', '/batch', [{ type: 'bogus', key: 'k' }]],
    ['POST', '/batch', [{ type: 'put', key: 'k', value: { a: 1 } }, { type: 'put', key: 7, value: 1 }]],
    ['PUT', '/kv/%ff', 1],
    ['GET', '/changes?since=not-a-position', undefined]
  ]
  // URLSearchParams decodes the name: this spelling is a token too.
  const encoded = await fetch(`${node.http}/batch?access%5Ftoken=${WRITE}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '[{"type":"bogus"}]' })
  t.equal(encoded.status, 400, 'a batch with an encoded access_token name is authorized, and fails')
  await encoded.text()
  const statuses: number[] = []
  for (const [method, path, body] of attempts) {
    const sep = path.includes('?') ? '&' : '?'
    const res = await fetch(`${node.http}${path}${sep}access_token=${WRITE}`, { method, headers: body === undefined ? {} : { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) })
    statuses.push(res.status)
    await res.text()
  }
  t.ok(statuses.every((s) => s >= 400), `every attempt failed (${statuses.join(', ')})`)
  // The log is written as the error is answered; give the child a moment to flush stderr.
  await new Promise((resolve) => setTimeout(resolve, 300))
  t.notOk(node.log().includes(WRITE), 'the token is not in the log')
  t.comment(node.log())
})
