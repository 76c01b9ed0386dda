/**
 * Deep strict equality for the values states are made of (primitives by
 * Object.is, arrays, plain and class objects with the same prototype, Map, Set,
 * typed arrays and Date), portable where node:util's isDeepStrictEqual is not.
 */
export function deepEqual (a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false
  if (Object.getPrototypeOf(a) !== Object.getPrototypeOf(b)) return false
  if (ArrayBuffer.isView(a)) {
    const x = new Uint8Array(a.buffer, a.byteOffset, a.byteLength)
    const y = new Uint8Array((b as ArrayBufferView).buffer, (b as ArrayBufferView).byteOffset, (b as ArrayBufferView).byteLength)
    return x.length === y.length && x.every((byte, i) => byte === y[i])
  }
  if (a instanceof Date) return Object.is(a.getTime(), (b as Date).getTime())
  if (a instanceof Map) {
    const other = b as Map<unknown, unknown>
    if (a.size !== other.size) return false
    for (const [key, value] of a) if (!other.has(key) || !deepEqual(value, other.get(key))) return false
    return true
  }
  if (a instanceof Set) {
    const other = b as Set<unknown>
    // Members are compared by identity, as Set itself does.
    return a.size === other.size && [...a].every((member) => other.has(member))
  }
  const keys = Object.keys(a)
  if (keys.length !== Object.keys(b).length) return false
  if (Array.isArray(a) && a.length !== (b as unknown[]).length) return false
  for (const key of keys) {
    if (!Object.hasOwn(b, key) || !deepEqual((a as Record<string, unknown>)[key], (b as Record<string, unknown>)[key])) return false
  }
  return true
}
