// The body of a verification worker thread (lib/security/verify-pool.ts starts it).
// It only runs the signature check itself: the main thread has already parsed the
// signed update, checked the key against its source id and refused degenerate keys,
// so every verdict other than the cryptographic one is made in one place.
import { createPublicKey, verify, type KeyObject } from 'node:crypto'
import { parentPort } from 'node:worker_threads'
import { readChunk, type ChunkMessage, type ChunkVerdicts } from './verify-chunk.js'

/** Parsed keys by their base64url SPKI DER; bounded like the main thread's cache. */
const keys = new Map<string, KeyObject>()
const MAX_KEYS = 4096

function keyOf (encoded: string): KeyObject {
  let key = keys.get(encoded)
  if (key === undefined) {
    key = createPublicKey({ key: Buffer.from(encoded, 'base64url'), format: 'der', type: 'spki' })
    if (keys.size >= MAX_KEYS) keys.delete(keys.keys().next().value as string)
    keys.set(encoded, key)
  }
  return key
}

function check (message: ChunkMessage): ChunkVerdicts {
  const ok = new Uint8Array(message.count)
  const parsed: Array<KeyObject | undefined> = message.keys.map(([encoded]) => {
    try {
      return keyOf(encoded)
    } catch {
      return undefined
    }
  })
  readChunk(message, (i, keyIndex, data, signature) => {
    const key = parsed[keyIndex]
    if (key === undefined) return
    try {
      ok[i] = verify(message.keys[keyIndex]?.[1] ?? null, data, key, signature) ? 1 : 0
    } catch {
      // Anything OpenSSL refuses is a bad signature, as on the main thread.
    }
  })
  return { id: message.id, ok }
}

parentPort?.on('message', (message: ChunkMessage) => {
  const verdicts = check(message)
  parentPort?.postMessage(verdicts, [verdicts.ok.buffer as ArrayBuffer])
})
