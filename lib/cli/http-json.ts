/**
 * JSON text whose integers survive parsing. JSON.parse reads every number as
 * a double, so 9007199254740993 silently becomes 9007199254740992; the library
 * has no BigInt values, so such a value is refused (SCUTTLEDB_INVALID_VALUE)
 * rather than stored rounded. Numbers written with a fraction or an exponent
 * (1.5, 1e300) are doubles by intent and pass, and so is an integer written as
 * JavaScript writes its double (JSON.stringify(1.2345678901234568e20) is
 * 123456789012345680000): it reads back as it was written.
 */

/** A JSON number token: sign, integer part, then an optional fraction and exponent. */
const NUMBER = /-?(?:0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/y

/**
 * The first integer literal of the JSON `text` (valid JSON: JSON.parse took
 * it) whose value is not exactly a double, nor the text of the double it
 * parses to, or undefined. Strings are skipped;
 * a text with no run of 16 digits cannot hold one (2^53 has 16), and is not scanned.
 */
export function inexactInteger (text: string): string | undefined {
  if (!/\d{16}/.test(text)) return undefined
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (c === 0x22) {
      // Skip a string: to its closing quote, past escaped characters.
      for (i++; i < text.length && text.charCodeAt(i) !== 0x22; i++) if (text.charCodeAt(i) === 0x5c) i++
      continue
    }
    if (c !== 0x2d && (c < 0x30 || c > 0x39)) continue
    NUMBER.lastIndex = i
    const match = NUMBER.exec(text)
    if (match === null) continue
    const token = match[0]
    i += token.length - 1
    if (match[1] !== undefined || match[2] !== undefined || token.length < 16) continue
    // Exact comparison: a finite double that is an integer converts to BigInt without loss.
    const double = Number(token)
    if (!Number.isFinite(double)) return token
    // Not exact, but the very text JavaScript writes for that double (123456789012345680000
    // for 1.2345678901234568e20): it reads back as typed, and `dump` writes such numbers.
    if (BigInt(token) !== BigInt(double) && String(double) !== token) return token
  }
  return undefined
}

/** The message for a refused integer (one wording for the CLI and the HTTP API). */
export function inexactMessage (token: string): string {
  return `The integer ${token} is not exactly a double (it would be stored as ${String(Number(token))}): integers beyond 2^53 are not supported; store it as a string`
}
