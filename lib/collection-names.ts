import { isWellFormed } from './protocol.js'

/** The longest document name, in UTF-16 code units. */
export const MAX_NAME_LENGTH = 1024

/** True for a usable document name: a well-formed, non-empty string of at most MAX_NAME_LENGTH. */
export function isDocumentName (name: unknown): name is string {
  return typeof name === 'string' && name.length > 0 && name.length <= MAX_NAME_LENGTH && isWellFormed(name)
}
