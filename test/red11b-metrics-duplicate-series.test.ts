// GET /metrics labelled each connection's series {peer, direction} only: two incoming
// connections from one source address and port, one to --port and one to --ws (a client
// may bind the same local port for both), gave the same series twice, which is not valid
// Prometheus exposition. The series now also carry the connection's transport.
import net from 'node:net'
import test from 'tape'
import { until } from './helpers.js'
import { freePort, startNode } from './fixtures/net-helpers.js'

function duplicates (text: string): string[] {
  const series = text.split('\n').filter((l) => l !== '' && !l.startsWith('#')).map((l) => l.slice(0, l.lastIndexOf(' ')))
  return series.filter((s, i) => series.indexOf(s) !== i)
}

test('/metrics has no series twice when one address and port connects to --port and --ws', async (t) => {
  const node = await startNode(t, ['--ws', '0'])
  const local = await freePort()
  const sockets = [net.connect({ host: '127.0.0.1', port: node.port, localAddress: '127.0.0.1', localPort: local })]
  const upgraded = new Promise<string>((resolve) => {
    const ws = net.connect({ host: '127.0.0.1', port: node.ws, localAddress: '127.0.0.1', localPort: local }, () => {
      ws.write('GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n')
    })
    ws.once('data', (d: Buffer) => { resolve(d.toString('latin1').split('\r\n')[0]) })
    sockets.push(ws)
  })
  for (const s of sockets) s.on('error', () => {})
  t.teardown(() => { for (const s of sockets) s.destroy() })
  t.equal(await upgraded, 'HTTP/1.1 101 Switching Protocols', 'the WebSocket upgrade is accepted')
  let text = ''
  const both = await until(async () => {
    text = await (await fetch(`${node.http}/metrics`)).text()
    return text.split('\n').filter((l) => l.startsWith('scuttledb_peer_updates_received_total{') && l.includes(`127.0.0.1:${local}`)).length === 2
  }, 5000)
  t.ok(both, `both connections are in /metrics (${text.split('\n').filter((l) => l.includes('peer=')).join(' | ')})`)
  t.deepEqual(duplicates(text), [], 'no series appears twice')
})
