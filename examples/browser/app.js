// A shared key-value list in the browser: a Model on IndexedDB (browser-level),
// kept in sync with a scuttledb node over WebSocket. See README.md.
import { Model, connectWebSocket } from 'scuttledb'

const $ = (id) => document.getElementById(id)
const url = new URLSearchParams(location.search).get('peer') ?? 'ws://127.0.0.1:4102/'

const model = new Model({ db: 'scuttledb-example' }) // an IndexedDB database of that name
await model.open()

async function render () {
  const rows = []
  for await (const [key, value] of model.entries()) rows.push(`<li><b>${escape(key)}</b>: ${escape(JSON.stringify(value))}</li>`)
  $('entries').innerHTML = rows.join('')
}

function escape (text) {
  return text.replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`)
}

model.on('change', () => { void render() })
await render()

$('form').addEventListener('submit', async (event) => {
  event.preventDefault()
  await model.set($('key').value, $('value').value) // resolves once committed to IndexedDB
  $('value').value = ''
})

// Reconnects with backoff, and at once when the browser comes back online.
const client = connectWebSocket(model, { url })
for (const state of ['connecting', 'connected', 'synced', 'disconnected']) {
  client.on(state, () => { $('status').textContent = `${state} (${url})` })
}
