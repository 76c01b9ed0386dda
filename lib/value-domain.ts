/**
 * True for a string without lone surrogates. LevelDB keys and msgpack strings are
 * UTF-8: a lone surrogate encodes as U+FFFD, so two different strings would share a key.
 */
export function isWellFormed (s: string): boolean {
  return (s as string & { isWellFormed: () => boolean }).isWellFormed()
}

/**
 * The type of the value domain (see `valueProblem`): JSON's values plus binary.
 * The default value type of Model and Value and of Events' arguments. The type
 * cannot say "finite", "no lone surrogates" or "at most MAX_DEPTH deep": those
 * are checked at the call.
 */
export type Json = null | boolean | number | string | Uint8Array | Json[] | { [key: string]: Json }

/** How deeply a value may nest arrays and objects: far beyond real data, far below the stack's limit. */
export const MAX_DEPTH = 256

/** What `valueProblem` says of a value nested deeper than it may be. */
const DEPTH_PROBLEM = `nesting deeper than ${MAX_DEPTH} levels`

/**
 * The values scuttledb stores and replicates: what both wire formats (msgpack
 * and the original's JSON) and storage carry exactly.
 *
 * - `null`, `true`, `false`
 * - finite numbers other than `-0` (msgpack writes -0 as 0, JSON as 0)
 * - strings without lone surrogates (UTF-8 cannot carry them)
 * - arrays without holes and without other own properties than their elements
 *   (no named or symbol keys, prototype `Array.prototype`), and plain objects
 *   (prototype `Object.prototype` or `null`) whose own keys are well-formed
 *   strings other than `__proto__`, with no symbol keys, whose values are in the
 *   domain (non-enumerable properties are not part of a value, as in JSON)
 * - binary: `Uint8Array` (a `Buffer` is one), read back as a `Buffer`; msgpack
 *   only: a JSON stream cannot carry it and skips such updates (see `unsendable`)
 *
 * Nesting is limited to `MAX_DEPTH` levels. Everything else (undefined,
 * BigInt, NaN, Infinity, -0, other typed arrays, Date, Map, Set, class
 * instances, functions, symbols) is outside: refused at the call when local,
 * rejected with the stream closed when it comes from a peer.
 *
 * Returns undefined when `value` is in the domain, otherwise why not.
 * `decoded`: true for a value a msgpack or JSON decoder made (it skips the
 * checks only a caller's own objects can fail).
 */
export function valueProblem (value: unknown, depth = MAX_DEPTH, decoded = false): string | undefined {
  switch (typeof value) {
    case 'string':
      return isWellFormed(value) ? undefined : 'a string with a lone surrogate'
    case 'number':
      if (!Number.isFinite(value)) return `the number ${String(value)}`
      return value === 0 && 1 / value < 0 ? 'the number -0' : undefined
    case 'boolean':
      return undefined
    case 'object':
      if (value === null) return undefined
      return objectProblem(value, depth, decoded)
    default:
      return `a value of type ${typeof value}`
  }
}

/**
 * The first problem among the elements of `shell`, a plain array without holes
 * that a data type made itself (`[key, value]`): its own shape needs no check.
 */
export function elementsProblem (shell: unknown[]): string | undefined {
  for (let i = 0; i < shell.length; i++) {
    const problem = valueProblem(shell[i], MAX_DEPTH - 1)
    // The shell is the change's first level: a value inside it has one level less.
    if (problem === DEPTH_PROBLEM) return `nesting deeper than ${MAX_DEPTH - 1} levels in a value (its change, one level more, may nest ${MAX_DEPTH})`
    if (problem !== undefined) return problem
  }
  return undefined
}

/**
 * `decoded`: the value came from a msgpack or JSON decoder, which makes plain
 * arrays and objects only, so what such a value cannot have (an array's named or
 * symbol keys, its prototype; an object's symbol keys) is not looked for: those
 * checks allocate, and every received update passes here (lib/protocol.ts).
 */
function objectProblem (value: object, depth: number, decoded: boolean): string | undefined {
  if (value instanceof Uint8Array) {
    // Subclasses other than Buffer (none in practice) would come back as a Buffer: still bytes.
    return undefined
  }
  if (depth === 0) return DEPTH_PROBLEM
  if (Array.isArray(value)) {
    // Both wire formats carry an array's elements only: a subclass or a named
    // property would read back as a different value.
    if (!decoded && Object.getPrototypeOf(value) !== Array.prototype) return 'an array that is not plain'
    for (let i = 0; i < value.length; i++) {
      if (!(i in value)) return 'an array with holes'
      const problem = valueProblem(value[i], depth - 1, decoded)
      if (problem !== undefined) return problem
    }
    if (decoded) return undefined
    // Without holes, the own enumerable keys are the indices and nothing else exactly when they number `length`.
    if (Object.keys(value).length !== value.length) return 'an array with properties other than its elements'
    if (Object.getOwnPropertySymbols(value).length > 0) return 'an array with symbol keys'
    return undefined
  }
  const proto = Object.getPrototypeOf(value)
  if (proto !== Object.prototype && proto !== null) {
    const name = (value.constructor as { name?: unknown } | undefined)?.name
    return typeof name === 'string' && name !== '' ? `an instance of ${name}` : 'an object that is not plain'
  }
  if (!decoded && Object.getOwnPropertySymbols(value).length > 0) return 'an object with symbol keys'
  for (const key in value) {
    if (!Object.hasOwn(value, key)) continue
    // msgpackr renames the key __proto__ on decoding (a prototype-pollution guard).
    if (key === '__proto__') return 'the object key __proto__'
    if (!isWellFormed(key)) return 'an object key with a lone surrogate'
    const problem = valueProblem((value as Record<string, unknown>)[key], depth - 1, decoded)
    if (problem !== undefined) return problem
  }
  return undefined
}

/** True when `value` is in the value domain (see `valueProblem`). */
export function isValue (value: unknown): boolean {
  return valueProblem(value) === undefined
}

/** True when `value` holds binary anywhere (which the JSON wire cannot carry). */
export function holdsBinary (value: unknown, depth = MAX_DEPTH): boolean {
  if (value === null || typeof value !== 'object') return false
  if (value instanceof Uint8Array) return true
  if (depth === 0) return false
  const children = Array.isArray(value) ? value : Object.values(value)
  for (const child of children) if (holdsBinary(child, depth - 1)) return true
  return false
}
