import type { KeyRange, Model } from '../model.js'
import { badRequest } from './http-errors.js'
import { MAX_PAGE_CHARS, jsonChars, viewOf, type ValueView } from './json-view.js'

/** Largest page of `GET /kv`. */
const MAX_LIMIT = 1000

/** One end of a key range. */
interface Bound {
  key: string
  inclusive: boolean
}

/** Keys compare as the store orders them: UTF-8 bytes (not JavaScript's UTF-16 units). */
function compare (a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'))
}

/** The least string greater than every string that starts with `prefix` (undefined: none). */
export function prefixEnd (prefix: string): string | undefined {
  const points = [...prefix].map((c) => c.codePointAt(0) as number)
  while (points.length > 0) {
    let last = (points.pop() as number) + 1
    if (last === 0xd800) last = 0xe000 // skip the surrogates: they are not characters
    if (last <= 0x10ffff) return String.fromCodePoint(...points, last)
  }
  return undefined
}

/** The tighter of two lower (`upper` false) or upper bounds; on a tie the exclusive one. */
function tighter (a: Bound | undefined, b: Bound | undefined, upper: boolean): Bound | undefined {
  if (a === undefined) return b
  if (b === undefined) return a
  const c = compare(a.key, b.key) * (upper ? -1 : 1)
  if (c !== 0) return c > 0 ? a : b
  return a.inclusive ? b : a
}

function bound (q: Map<string, string>, exclusive: string, inclusive: string): Bound | undefined {
  const [gt, gte] = [q.get(exclusive), q.get(inclusive)]
  if (gt !== undefined && gte !== undefined) throw badRequest(`Give ${exclusive} or ${inclusive}, not both`)
  if (gt !== undefined) return { key: gt, inclusive: false }
  if (gte !== undefined) return { key: gte, inclusive: true }
  return undefined
}

/**
 * `GET /kv?prefix=&gt=&gte=&lt=&lte=&limit=&reverse=&after=`: one page of the
 * range (every bound applies together), and `next`: pass it as `after` with the
 * same query for the following page (null at the end).
 */
export async function listPage (model: Model, q: Map<string, string>): Promise<{ items: ValueView[], next: string | null }> {
  const limitText = q.get('limit') ?? '100'
  if (!/^\d+$/.test(limitText) || Number(limitText) < 1 || Number(limitText) > MAX_LIMIT) throw badRequest(`limit must be an integer from 1 to ${MAX_LIMIT}`)
  const limit = Number(limitText)
  const reverseText = q.get('reverse') ?? 'false'
  if (!['true', 'false', '1', '0'].includes(reverseText)) throw badRequest('reverse must be true or false')
  const reverse = reverseText === 'true' || reverseText === '1'
  let lower = bound(q, 'gt', 'gte')
  let upper = bound(q, 'lt', 'lte')
  const prefix = q.get('prefix')
  if (prefix !== undefined && prefix !== '') {
    lower = tighter(lower, { key: prefix, inclusive: true }, false)
    const end = prefixEnd(prefix)
    if (end !== undefined) upper = tighter(upper, { key: end, inclusive: false }, true)
  }
  const after = q.get('after')
  if (after !== undefined) {
    // The cursor continues in the direction of the listing.
    if (reverse) upper = tighter(upper, { key: after, inclusive: false }, true)
    else lower = tighter(lower, { key: after, inclusive: false }, false)
  }
  const items: ValueView[] = []
  if (lower !== undefined && upper !== undefined) {
    const c = compare(lower.key, upper.key)
    if (c > 0 || (c === 0 && !(lower.inclusive && upper.inclusive))) return { items, next: null }
  }
  const range: KeyRange = { limit: limit + 1, reverse }
  if (lower !== undefined) range[lower.inclusive ? 'gte' : 'gt'] = lower.key
  if (upper !== undefined) range[upper.inclusive ? 'lte' : 'lt'] = upper.key
  let more = false
  let chars = 0
  // One extra entry tells whether there is a next page.
  for await (const [key, value] of model.entries(range)) {
    if (items.length === limit || chars >= MAX_PAGE_CHARS) {
      more = true
      break
    }
    const view = viewOf(key, value)
    chars += jsonChars(view)
    items.push(view)
  }
  return { items, next: more ? items[items.length - 1].key : null }
}
