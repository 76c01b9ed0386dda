// A process-wide pool of worker threads that verify signatures in batches, so a
// large sync uses every core while the main thread decodes and commits. Node-only:
// the browser entry never imports lib/security/.
import { availableParallelism } from 'node:os'
import { Worker } from 'node:worker_threads'
import { writeChunk, type ChunkVerdicts, type VerifyJob } from './verify-chunk.js'

/** Fewer jobs than this in a chunk are not worth a message. */
const MIN_CHUNK = 32
/** A batch is cut into about this many chunks per worker, so that a worker given less CPU does not hold up the batch. */
const CHUNKS_PER_WORKER = 4
/**
 * Chunks posted to one worker at a time: the next ones wait in its port while it checks
 * the current one. With 2 (about 8 ms of Ed25519 work queued per worker) a worker sat
 * idle 8-10% of a signed sync on a loaded 2-core machine, waiting for a main thread
 * busy applying a batch (or not scheduled) to hand it the next chunk; 2-7% with 4.
 */
const IN_FLIGHT = 4
/** A worker idle this long exits (it is unref'd meanwhile, so it never holds the process open). */
const IDLE_MS = 5000
/** The worker's code, next to this file (in a single-file bundle it is missing: callers then verify themselves). */
const WORKER = new URL('./verify-worker.js', import.meta.url)

interface Chunk {
  jobs: VerifyJob[]
  resolve: (ok: Uint8Array) => void
  reject: (err: Error) => void
}

interface Slot {
  worker: Worker
  /** Chunks posted to this worker, by message id. */
  posted: Map<number, Chunk>
  idle: NodeJS.Timeout | undefined
  /** Whether it ever answered: a worker that fails before that cannot start here at all. */
  answered: boolean
  retired: boolean
}

/**
 * Worker threads verifying signatures: started lazily, ref'd only while they have
 * work. Batches are cut into chunks on one queue that every worker takes from.
 */
export class VerifyPool {
  readonly #size: number
  readonly #idleMs: number
  readonly #script: URL
  #slots: Slot[] = []
  /** Chunks waiting for a worker, oldest first. */
  #queue: Chunk[] = []
  #nextId = 0
  /** Set once a worker failed before answering: workers cannot run here; callers verify on their own thread. */
  #broken: Error | undefined

  constructor (size: number, idleMs = IDLE_MS, script = WORKER) {
    this.#size = size
    this.#idleMs = idleMs
    this.#script = script
  }

  /** Worker threads running now. */
  get threads (): number {
    return this.#slots.length
  }

  /** 1 where a job's signature verifies, 0 elsewhere; rejects when a worker fails (the caller then verifies itself). */
  async verify (jobs: VerifyJob[]): Promise<Uint8Array> {
    if (this.#broken !== undefined) throw this.#broken
    if (jobs.length === 0) return new Uint8Array(0)
    const step = Math.max(MIN_CHUNK, Math.ceil(jobs.length / (this.#size * CHUNKS_PER_WORKER)))
    const parts: Array<Promise<Uint8Array>> = []
    for (let at = 0; at < jobs.length; at += step) {
      const part = jobs.slice(at, at + step)
      parts.push(new Promise((resolve, reject) => { this.#queue.push({ jobs: part, resolve, reject }) }))
    }
    this.#dispatch()
    const answers = await Promise.all(parts)
    if (answers.length === 1) return answers[0] as Uint8Array
    const ok = new Uint8Array(jobs.length)
    let at = 0
    for (const part of answers) {
      ok.set(part, at)
      at += part.length
    }
    return ok
  }

  /** Terminate every worker; pending verifications reject (their callers verify themselves). */
  async close (): Promise<void> {
    const slots = this.#slots
    this.#slots = []
    const reason = new Error('The verification pool was closed')
    this.#failQueued(reason)
    await Promise.all(slots.map(async (slot) => await this.#retire(slot, reason)))
  }

  /** Post queued chunks to workers with room, starting workers up to the pool's size. */
  #dispatch (): void {
    while (this.#queue.length > 0) {
      if (this.#broken !== undefined) {
        this.#failQueued(this.#broken)
        return
      }
      let slot: Slot | undefined
      for (const s of this.#slots) if (s.posted.size < IN_FLIGHT && (slot === undefined || s.posted.size < slot.posted.size)) slot = s
      // An idle worker takes it; else a new worker, while the pool has room; else one with a free place.
      if (slot === undefined || (slot.posted.size > 0 && this.#slots.length < this.#size)) slot = this.#spawn()
      if (slot === undefined) return
      this.#post(slot, this.#queue.shift() as Chunk)
    }
  }

  #post (slot: Slot, chunk: Chunk): void {
    const id = this.#nextId++
    const message = writeChunk(id, chunk.jobs)
    if (slot.posted.size === 0) {
      clearTimeout(slot.idle)
      slot.idle = undefined
      slot.worker.ref()
    }
    slot.posted.set(id, chunk)
    slot.worker.postMessage(message, [message.buffer])
  }

  #failQueued (reason: Error): void {
    const queued = this.#queue
    this.#queue = []
    for (const chunk of queued) chunk.reject(reason)
  }

  #spawn (): Slot | undefined {
    if (this.#slots.length >= this.#size) return undefined
    const worker = new Worker(this.#script)
    const slot: Slot = { worker, posted: new Map(), idle: undefined, answered: false, retired: false }
    worker.on('message', (verdicts: ChunkVerdicts) => {
      slot.answered = true
      const chunk = slot.posted.get(verdicts.id)
      slot.posted.delete(verdicts.id)
      chunk?.resolve(verdicts.ok)
      this.#dispatch()
      if (slot.posted.size === 0 && !slot.retired) {
        // Idle: never keep the process alive for it, and let it go after a while.
        worker.unref()
        slot.idle = setTimeout(() => { void this.#retire(slot, new Error('idle')) }, this.#idleMs)
        slot.idle.unref()
      }
    })
    const fail = (err: Error): void => {
      if (slot.retired) return
      if (!slot.answered) this.#broken = err
      void this.#retire(slot, err)
      // What is still queued goes to the other workers (or fails, if none can start).
      this.#dispatch()
    }
    worker.on('error', fail)
    worker.on('messageerror', fail)
    worker.on('exit', (code) => { fail(new Error(`A verification worker exited with code ${code}`)) })
    this.#slots.push(slot)
    return slot
  }

  async #retire (slot: Slot, reason: Error): Promise<void> {
    if (slot.retired) return
    slot.retired = true
    clearTimeout(slot.idle)
    this.#slots = this.#slots.filter((s) => s !== slot)
    for (const chunk of slot.posted.values()) chunk.reject(reason)
    slot.posted.clear()
    await slot.worker.terminate().catch(() => {})
  }
}

let shared: VerifyPool | undefined

/** The process-wide pool every verifying backend shares: one worker per core, at most 4. */
export function verifyPool (): VerifyPool {
  shared ??= new VerifyPool(Math.max(1, Math.min(4, availableParallelism())))
  return shared
}
