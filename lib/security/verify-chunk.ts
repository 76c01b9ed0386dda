// The message a verification worker gets: many signature checks in one
// transferred buffer, so a batch costs one postMessage, not one per update.

/** One signature check: everything but the cryptography is already done. */
export interface VerifyJob {
  /** The signer's SPKI DER public key, base64url (as it travels in the update). */
  key: string
  /** The digest for node:crypto's verify: null for Ed25519, 'sha256' for RSA. */
  algorithm: string | null
  data: Uint8Array
  signature: Uint8Array
}

/** A chunk of jobs as posted to a worker. */
export interface ChunkMessage {
  id: number
  count: number
  /** The distinct keys of this chunk: [encoded, algorithm]. */
  keys: Array<[string, string | null]>
  /** Per job: u32 key index, u32 signature length, u32 data length, signature, data. */
  buffer: ArrayBuffer
}

/** A worker's answer: 1 where the signature verifies, 0 elsewhere, in job order. */
export interface ChunkVerdicts {
  id: number
  ok: Uint8Array
}

const HEADER = 12

/** Pack jobs into one transferable message. */
export function writeChunk (id: number, jobs: VerifyJob[]): ChunkMessage {
  const keyIndex = new Map<string, number>()
  const keys: Array<[string, string | null]> = []
  let size = 0
  for (const job of jobs) size += HEADER + job.signature.length + job.data.length
  const buffer = new ArrayBuffer(size)
  const bytes = new Uint8Array(buffer)
  const view = new DataView(buffer)
  let at = 0
  for (const job of jobs) {
    let index = keyIndex.get(job.key)
    if (index === undefined) {
      index = keys.length
      keyIndex.set(job.key, index)
      keys.push([job.key, job.algorithm])
    }
    view.setUint32(at, index)
    view.setUint32(at + 4, job.signature.length)
    view.setUint32(at + 8, job.data.length)
    at += HEADER
    bytes.set(job.signature, at)
    at += job.signature.length
    bytes.set(job.data, at)
    at += job.data.length
  }
  return { id, count: jobs.length, keys, buffer }
}

/** Call `each` with every job of a chunk, in order (views into the buffer, not copies). */
export function readChunk (message: ChunkMessage, each: (i: number, keyIndex: number, data: Uint8Array, signature: Uint8Array) => void): void {
  const view = new DataView(message.buffer)
  let at = 0
  for (let i = 0; i < message.count; i++) {
    const keyIndex = view.getUint32(at)
    const signatureLength = view.getUint32(at + 4)
    const dataLength = view.getUint32(at + 8)
    at += HEADER
    const signature = new Uint8Array(message.buffer, at, signatureLength)
    at += signatureLength
    const data = new Uint8Array(message.buffer, at, dataLength)
    at += dataLength
    each(i, keyIndex, data, signature)
  }
}
