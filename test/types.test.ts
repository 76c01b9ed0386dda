import test from 'tape'
import { execFile } from 'node:child_process'
import { readdir, readFile } from 'node:fs/promises'
import { join, relative, resolve } from 'node:path'
import { promisify } from 'node:util'

const run = promisify(execFile)
const root = resolve(import.meta.dirname, '..', '..')
const dist = join(root, 'dist')

/** Every declaration file the package ships (npm test builds dist/ first). */
async function declarations (): Promise<Array<{ file: string, text: string }>> {
  const entries = await readdir(dist, { recursive: true })
  const files = entries.filter((name) => name.endsWith('.d.ts')).sort()
  return await Promise.all(files.map(async (name) => ({ file: relative(root, join(dist, name)), text: await readFile(join(dist, name), 'utf8') })))
}

/** The text without comments (doc comments may say "any"); string literals are kept. */
function code (text: string): string {
  return text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:'"])\/\/.*$/gm, '$1')
}

test('the public types compile as documented and refuse misuse (strict tsc on test-d/ against dist/)', async (t) => {
  const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc')
  // test-d/ imports 'scuttledb' through the package's own "exports": what a user's tsc sees.
  const result = await run(process.execPath, [tsc, '--noEmit', '-p', join(root, 'test-d', 'tsconfig.json')], { cwd: root })
    .then(() => ({ code: 0, output: '' }), (err: { code?: number, stdout?: string }) => ({ code: err.code ?? 1, output: err.stdout ?? '' }))
  // An unused @ts-expect-error is itself an error, so a type that got looser fails here too.
  t.equal(result.code, 0, 'tsc passes: every positive case compiles, every @ts-expect-error case is an error')
  if (result.output !== '') t.comment(result.output)
})

test('no public declaration uses any', async (t) => {
  const files = await declarations()
  t.ok(files.length > 20, `${files.length} declaration files in dist/`)
  const found = files.flatMap(({ file, text }) => code(text).split('\n').flatMap((line, i) => /\bany\b/.test(line) ? [`${file}:${i + 1}: ${line.trim()}`] : []))
  t.deepEqual(found, [], 'no `any` outside comments')
})

test('internal members are stripped from the shipped declarations', async (t) => {
  const files = await declarations()
  // Node's stream hooks are public API of every stream; protected hooks are for subclasses.
  const streamHooks = new Set(['_read', '_write', '_final', '_destroy', '_transform', '_flush', '_construct', '_writev'])
  const found = files.flatMap(({ file, text }) => code(text).split('\n').flatMap((line, i) => {
    const m = /^\s+(?:readonly\s+)?(?:get\s+)?(_\w+)\s*[(:<?]/.exec(line)
    return m !== null && !streamHooks.has(m[1]) ? [`${file}:${i + 1}: ${line.trim()}`] : []
  }))
  t.deepEqual(found, [], 'no underscore member except protected hooks and Node stream hooks')
  const scuttlebutt = files.find(({ file }) => file.endsWith(join('dist', 'scuttlebutt.d.ts')))
  t.ok(scuttlebutt !== undefined && !scuttlebutt.text.includes('_receive') && !scuttlebutt.text.includes('_cursor'), '_receive and _cursor are not declared')
  t.ok(files.every(({ text }) => !text.includes('@internal')), 'no @internal declaration is left')
})
