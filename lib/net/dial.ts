import type { EventEmitter } from 'events'
import { netCodes, netError } from './errors.js'

function ignore (): void {}

/**
 * Give a transport this layer may destroy a listener for 'error' for the rest
 * of its life. An attempt that gave up (aborted, timed out) stops listening, yet
 * the transport can still report an error afterwards (a destroy racing the
 * connect, a reset); without a listener that error would crash the process.
 */
export function sinkErrors (emitter: EventEmitter): void {
  emitter.on('error', ignore)
}

/** How to wait for one transport to open. */
export interface OpeningOptions<T> {
  /** Aborted when the client closes: the attempt rejects with the signal's reason. */
  signal: AbortSignal
  /** The event that means the transport is open. */
  ready: string
  /** Runs inside the `ready` listener (so nothing emitted right after is missed); its result resolves the attempt. */
  onReady: () => T
  /** Other events that fail the attempt, with the error each means. */
  failures?: Record<string, (...args: never[]) => Error>
  /** Fail with `error()` after `ms`. */
  timeout?: { ms: number, error: () => Error }
  /** Tear the transport down after a failure, without an error: nobody would hear it. */
  abandon: () => void
}

/**
 * Wait until `emitter` emits `ready`; reject on 'error', on an early 'close', on a
 * listed failure event, on timeout or on abort. Settles exactly once, removes
 * every listener and timer it added (the signal lives longer than one attempt),
 * and abandons the transport on failure. Call `sinkErrors` on the emitter first.
 */
export async function opening<T> (emitter: EventEmitter, options: OpeningOptions<T>): Promise<T> {
  const { signal, ready, onReady, failures = {}, timeout, abandon } = options
  return await new Promise<T>((resolve, reject) => {
    let timer: NodeJS.Timeout | undefined
    const listeners: Array<[string, (...args: any[]) => void]> = []
    const cleanup = (): void => {
      clearTimeout(timer)
      signal.removeEventListener('abort', onAbort)
      for (const [event, listener] of listeners) emitter.off(event, listener)
    }
    const fail = (err: Error): void => {
      cleanup()
      abandon()
      reject(err)
    }
    const on = (event: string, listener: (...args: any[]) => void): void => {
      listeners.push([event, listener])
      emitter.on(event, listener)
    }
    function onAbort (): void {
      fail(signal.reason instanceof Error ? signal.reason : netError(netCodes.CLOSED, 'The client was closed'))
    }
    if (signal.aborted) {
      onAbort()
      return
    }
    signal.addEventListener('abort', onAbort, { once: true })
    on(ready, () => {
      cleanup()
      let value: T
      try {
        value = onReady()
      } catch (err) {
        abandon()
        reject(err)
        return
      }
      resolve(value)
    })
    on('error', fail)
    on('close', () => { fail(netError(netCodes.CLOSED, 'The connection closed before it opened')) })
    for (const [event, toError] of Object.entries(failures)) on(event, (...args: unknown[]) => { fail(toError(...args as never[])) })
    if (timeout !== undefined) timer = setTimeout(() => { fail(timeout.error()) }, timeout.ms)
  })
}
