// A process-wide pool of worker threads that verify signatures in batches, so a
// large sync uses every core while the main thread decodes and commits. Node-only:
// the browser entry never imports lib/security/.
import { availableParallelism } from 'node:os'
import { Worker } from 'node:worker_threads'
import { writeChunk, type ChunkVerdicts, type VerifyJob } from './verify-chunk.js'

/** Fewer jobs than this per worker are not worth splitting a batch for. */
const MIN_CHUNK = 32
/** A worker idle this long exits (it is unref'd meanwhile, so it never holds the process open). */
const IDLE_MS = 5000
/** The worker's code, next to this file (in a single-file bundle it is missing: callers then verify themselves). */
const WORKER = new URL('./verify-worker.js', import.meta.url)

interface Waiter {
  resolve: (ok: Uint8Array) => void
  reject: (err: Error) => void
}

interface Slot {
  worker: Worker
  pending: Map<number, Waiter>
  idle: NodeJS.Timeout | undefined
  /** Whether it ever answered: a worker that fails before that cannot start here at all. */
  answered: boolean
  retired: boolean
}

/** Worker threads verifying signatures: started lazily, ref'd only while they have work. */
export class VerifyPool {
  readonly #size: number
  readonly #idleMs: number
  readonly #script: URL
  #slots: Slot[] = []
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
    const chunks = Math.min(this.#size, Math.max(1, Math.floor(jobs.length / MIN_CHUNK)))
    const step = Math.ceil(jobs.length / chunks)
    const parts: Array<Promise<Uint8Array>> = []
    for (let at = 0; at < jobs.length; at += step) parts.push(this.#send(jobs.slice(at, at + step)))
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
    await Promise.all(slots.map(async (slot) => await this.#retire(slot, new Error('The verification pool was closed'))))
  }

  async #send (jobs: VerifyJob[]): Promise<Uint8Array> {
    const slot = this.#pick()
    const id = this.#nextId++
    const message = writeChunk(id, jobs)
    return await new Promise<Uint8Array>((resolve, reject) => {
      if (slot.pending.size === 0) {
        clearTimeout(slot.idle)
        slot.idle = undefined
        slot.worker.ref()
      }
      slot.pending.set(id, { resolve, reject })
      slot.worker.postMessage(message, [message.buffer])
    })
  }

  /** An idle worker, else a new one while under size, else the least loaded. */
  #pick (): Slot {
    let best: Slot | undefined
    for (const slot of this.#slots) {
      if (slot.pending.size === 0) return slot
      if (best === undefined || slot.pending.size < best.pending.size) best = slot
    }
    if (best !== undefined && this.#slots.length >= this.#size) return best
    return this.#spawn()
  }

  #spawn (): Slot {
    const worker = new Worker(this.#script)
    const slot: Slot = { worker, pending: new Map(), idle: undefined, answered: false, retired: false }
    worker.on('message', (verdicts: ChunkVerdicts) => {
      slot.answered = true
      const waiter = slot.pending.get(verdicts.id)
      slot.pending.delete(verdicts.id)
      if (slot.pending.size === 0 && !slot.retired) {
        // Idle: never keep the process alive for it, and let it go after a while.
        worker.unref()
        slot.idle = setTimeout(() => { void this.#retire(slot, new Error('idle')) }, this.#idleMs)
        slot.idle.unref()
      }
      waiter?.resolve(verdicts.ok)
    })
    const fail = (err: Error): void => {
      if (slot.retired) return
      if (!slot.answered) this.#broken = err
      void this.#retire(slot, err)
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
    for (const waiter of slot.pending.values()) waiter.reject(reason)
    slot.pending.clear()
    await slot.worker.terminate().catch(() => {})
  }
}

let shared: VerifyPool | undefined

/** The process-wide pool every verifying backend shares: one worker per core, at most 4. */
export function verifyPool (): VerifyPool {
  shared ??= new VerifyPool(Math.max(1, Math.min(4, availableParallelism())))
  return shared
}
