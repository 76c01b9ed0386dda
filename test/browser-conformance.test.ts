import test from 'tape'
import { call, finish, launch, openPage } from './fixtures/browser-pages.js'

// The conformance suite (lib/conformance.ts, as the browser entry exports it) for
// Model, Events, Value and Counter on browser-level in Chromium: every assertion
// the suite makes in the page is made again here by tape, on the page's values.

interface Assertion { test: string, op: 'equal' | 'deepEqual' | 'ok', actual: unknown, expected?: unknown, message?: string }

const SEED = Number(process.env.SEED ?? 7)

test(`the conformance suite passes for every built-in type on browser-level (IndexedDB) in Chromium (seed ${SEED})`, async (t) => {
  const browser = await launch(t)
  const page = await openPage(t, browser)
  const assertions = JSON.parse(await call(page, 'conformance', SEED) as string) as Assertion[]
  const tests = new Set(assertions.map((a) => a.test))
  t.equal(tests.size, 4 * 5, 'five suite tests ran for each of the four types')
  for (const a of assertions) {
    const message = `${a.test}: ${a.message ?? a.op}`
    if (a.op === 'equal') t.equal(a.actual, a.expected, message)
    else if (a.op === 'deepEqual') t.deepEqual(a.actual, a.expected, message)
    else t.ok(a.actual, message)
  }
  await finish(t, page)
})
