// `serve --peer X --peer X`: the same peer given twice (or as tcp:// and bare) was dialed
// twice; the node tracked only the second client (GET /status listed one peer, the other
// receiving node saw two connections) and never closed the first on shutdown, which kept
// redialing a closed database ("unreachable: SCUTTLEDB_NOT_OPEN ...; retrying").
import test from 'tape'
import { sleep, until } from './helpers.js'
import { http, startNode } from './fixtures/net-helpers.js'

interface Status { peers: Array<{ direction: string, state: string }> }

async function peers (base: string, direction: string): Promise<Array<{ direction: string, state: string }>> {
  const { body } = await http(base, 'GET', '/status')
  return (body as Status).peers.filter((p) => p.direction === direction)
}

test('a --peer given twice is dialed once, and shutdown leaves no client redialing', async (t) => {
  const a = await startNode(t)
  const b = await startNode(t, ['--peer', `127.0.0.1:${a.port}`, '--peer', `tcp://127.0.0.1:${a.port}`, '--max-peers', '0'])
  const synced = await until(async () => {
    const out = await peers(b.http, 'outgoing')
    return out.length > 0 && out.every((p) => p.state === 'synced') && (await peers(a.http, 'incoming')).some((p) => p.state === 'synced')
  }, 10_000)
  t.ok(synced, 'the node syncs with its peer')
  // Both dials of the unfixed node start together at startup; give a second one time to land.
  await sleep(1000)
  t.equal((await peers(b.http, 'outgoing')).length, 1, 'the dialing node lists the peer once')
  t.equal((await peers(a.http, 'incoming')).length, 1, 'the peer sees one connection from it, not two')
  t.equal(b.log().split('\n').filter((l) => / connected to 127\.0\.0\.1:/.test(l)).length, 1, `it connected once (${b.log().trim()})`)
  t.equal(await b.stop(), 0, 'it exits 0')
  t.notOk(/unreachable: SCUTTLEDB_NOT_OPEN/.test(b.log()), 'no client left redialing the closed database')
})
