// Shared notes, offline first: every tab holds the notes in IndexedDB
// (browser-level), the tabs of this origin replicate with each other (joinTabs),
// and each syncs with the scuttledb node that served the page over WebSocket.
// Writes never wait for the network; they reach the node when it is reachable.
import { Model, connectWebSocket, joinTabs } from 'scuttledb'

const $ = (id) => document.getElementById(id)

// One replica per open tab (a reload gets its own back); the tabs keep each other up to date.
const tabs = await joinTabs('scuttledb-notes', (db) => new Model({ db }))
const notes = tabs.instance

async function render () {
  const items = []
  for await (const [key, note] of notes.entries({ gt: 'note:', lt: 'note;' })) items.push([key, note])
  items.sort((a, b) => a[1].at - b[1].at)
  $('notes').replaceChildren(...items.map(([key, note]) => {
    const li = document.createElement('li')
    const text = Object.assign(document.createElement('span'), { className: 'text', textContent: note.text })
    const by = Object.assign(document.createElement('span'), { className: 'by', textContent: new Date(note.at).toLocaleTimeString() })
    const remove = Object.assign(document.createElement('button'), { textContent: 'Done', title: 'Remove this note' })
    remove.addEventListener('click', () => { void notes.delete(key) })
    li.append(text, by, remove)
    return li
  }))
  $('notes').dataset.count = String(items.length)
}
notes.on('change', () => { void render() })
await render()

$('add').addEventListener('submit', async (event) => {
  event.preventDefault()
  const text = $('text').value.trim()
  if (text === '') return
  $('text').value = ''
  // Committed to IndexedDB when it resolves, online or not.
  await notes.set(`note:${Date.now().toString(36)}:${Math.random().toString(36).slice(2, 8)}`, { text, at: Date.now() })
})

// The node that served this page tells where it accepts WebSockets (GET /status).
const status = await (await fetch('/status')).json()
const url = new URLSearchParams(location.search).get('peer') ?? status.listening.websocket.replace('://0.0.0.0', `://${location.hostname}`)

// Reconnects with backoff, and at once when the browser is back online. While the
// browser says it is offline the app does not try at all (a held connection may
// linger on a dead network): writes go to IndexedDB and wait.
let client
let state = 'connecting'
let paused = false
const show = () => {
  $('status').textContent = paused ? 'offline: notes are kept in this browser and sync when back online' : `${state} with ${url}`
  $('status').className = paused ? 'offline' : state
}
function connect () {
  client = connectWebSocket(notes, { url, maxDelay: 5000 })
  for (const name of ['connecting', 'connected', 'synced', 'disconnected']) client.on(name, () => { state = name; show() })
}
addEventListener('offline', async () => {
  const closing = client
  client = undefined
  await closing?.close()
  paused = true
  show()
})
addEventListener('online', () => {
  paused = false
  if (client === undefined) connect()
  show()
})
if (navigator.onLine) connect()
else paused = true
show()
globalThis.notesApp = { notes, tabs, get client () { return client } }
