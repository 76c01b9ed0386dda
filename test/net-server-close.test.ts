import test from 'tape'
import net from 'node:net'
import { listen, listenWebSocket, type ReplicationServer } from '../lib/index.js'
import { memoryModel } from './helpers.js'

// A server for one instance has nothing left to serve once that instance closed: it
// stops, releasing its port, so a process that closed its instances can exit.

async function closesWithInstance (t: test.Test, start: (model: Awaited<ReturnType<typeof memoryModel>>) => Promise<ReplicationServer>): Promise<void> {
  const model = await memoryModel(t)
  const server = await start(model)
  let closed = false
  server.on('close', () => { closed = true })
  await model.close()
  const outcome = await Promise.race([
    new Promise<string>((resolve) => { if (closed) resolve('closed'); else server.once('close', () => { resolve('closed') }) }),
    new Promise<string>((resolve) => { setTimeout(() => { resolve('still listening after 5 s') }, 5000).unref() })
  ])
  t.equal(outcome, 'closed', 'the server closed once its instance had')
  const refused = await new Promise<string>((resolve) => {
    const socket = net.connect(server.address.port, '127.0.0.1')
    socket.once('connect', () => { socket.destroy(); resolve('connected') })
    socket.once('error', (err: NodeJS.ErrnoException) => { resolve(err.code ?? 'error') })
  })
  t.equal(refused, 'ECONNREFUSED', 'its port is released')
}

test('listen(instance): the server closes when its instance closes', async (t) => {
  await closesWithInstance(t, async (model) => await listen(model))
})

test('listenWebSocket(instance): the server closes when its instance closes', async (t) => {
  await closesWithInstance(t, async (model) => await listenWebSocket(model))
})

test('a server closed first leaves no listener on its instance', async (t) => {
  const model = await memoryModel(t)
  const before = model._lifecycleEmitter.listenerCount('close')
  const server = await listen(model)
  t.equal(model._lifecycleEmitter.listenerCount('close'), before + 1, 'it watches the instance while it listens')
  await server.close()
  t.equal(model._lifecycleEmitter.listenerCount('close'), before, 'and stops watching once closed')
})
