/**
 * The promise of an async `toJSON()`, marked handled. JSON.stringify() calls any
 * `toJSON` it meets (a Model inside a logged object) and drops what it returns:
 * a read that then fails (the instance not open, or closed meanwhile) must not be
 * an unhandled rejection that ends the process. A caller that awaits it still
 * gets the rejection.
 */
export function quietly<T> (promise: Promise<T>): Promise<T> {
  promise.catch(() => {})
  return promise
}
