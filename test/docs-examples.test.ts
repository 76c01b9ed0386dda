// The documentation's examples work. Every ```ts or ```js block in README.md
// and docs/*.md is preceded by a marker line:
//   <!-- test: compile -->                 compiled with tsc --strict (and no unused locals)
//   <!-- test: run, prints: TEXT -->       compiled, then run to completion in an empty
//                                          directory: it must exit 0 by itself, printing TEXT
//   <!-- test: fragment -->                an excerpt (undefined names), not checked
// Examples import from 'scuttledb': they are compiled inside this package, so the
// name resolves to the package itself (its "exports": the built dist/ and its types).
import test from 'tape'
import { execFile, spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { promisify } from 'node:util'
import { tempDir } from './helpers.js'

const run = promisify(execFile)
const root = resolve(import.meta.dirname, '..', '..')
const MARKER = /^<!-- test: (compile|run|fragment)(?:, prints: (.*?))? -->$/
const CODE_FENCE = /^```(ts|typescript|js|javascript)\s*$/

interface Example {
  /** `README.md:32`: where the code starts. */
  where: string
  /** A file name for it: `README-L32`. */
  name: string
  mode: 'compile' | 'run' | 'fragment'
  prints?: string
  code: string
}

/** The marked code blocks of one Markdown file, and the unmarked ones (each a mistake). */
function examples (file: string, text: string): { found: Example[], unmarked: string[] } {
  const lines = text.split('\n')
  const found: Example[] = []
  const unmarked: string[] = []
  for (let i = 0; i < lines.length; i++) {
    if (!CODE_FENCE.test(lines[i])) {
      // Skip other fenced blocks whole, so their contents are never taken for fences.
      if (lines[i].startsWith('```')) while (++i < lines.length && lines[i] !== '```');
      continue
    }
    const marker = MARKER.exec(lines[i - 1] ?? '')
    const start = i + 1
    while (++i < lines.length && lines[i] !== '```');
    const where = `${file}:${start}`
    if (marker === null) {
      unmarked.push(where)
      continue
    }
    const name = `${file.replace(/\.md$/, '').replace(/[^A-Za-z0-9]+/g, '-')}-L${start}`
    found.push({ where, name, mode: marker[1] as Example['mode'], prints: marker[2], code: lines.slice(start, i).join('\n') + '\n' })
  }
  return { found, unmarked }
}

async function allExamples (): Promise<{ found: Example[], unmarked: string[] }> {
  const files = ['README.md', ...(await readdir(join(root, 'docs'))).filter((f) => f.endsWith('.md')).sort().map((f) => `docs/${f}`)]
  const all = { found: [] as Example[], unmarked: [] as string[] }
  for (const file of files) {
    const { found, unmarked } = examples(file, await readFile(join(root, file), 'utf8'))
    all.found.push(...found)
    all.unmarked.push(...unmarked)
  }
  return all
}

test('every TypeScript or JavaScript block in the docs is marked compile, run or fragment', async (t) => {
  const { found, unmarked } = await allExamples()
  t.deepEqual(unmarked, [], 'no block without a <!-- test: ... --> marker')
  const checked = (file: string, mode: string, text: string): boolean =>
    found.some((e) => e.where.startsWith(`${file}:`) && e.mode === mode && e.code.includes(text))
  t.ok(checked('README.md', 'run', 'new Model('), 'the README\'s usage example is run')
  t.ok(checked('docs/subclassing.md', 'compile', 'class Counter extends Scuttlebutt'), 'the Counter of docs/subclassing.md is compiled')
  t.ok(checked('docs/security.md', 'run', 'authenticate('), 'the security quick start is run')
})

test('the docs\' examples compile with tsc --strict against the package, and the runnable ones run to completion', async (t) => {
  const { found } = await allExamples()
  const checked = found.filter((e) => e.mode !== 'fragment')
  // Inside the package (dist-test/ is ignored by git and npm), so 'scuttledb' is this package.
  const dir = join(root, 'dist-test', `docs-examples-${process.pid}`)
  t.teardown(async () => { await rm(dir, { recursive: true, force: true }) })
  await mkdir(join(dir, 'src'), { recursive: true })
  for (const e of checked) await writeFile(join(dir, 'src', `${e.name}.ts`), e.code)
  await writeFile(join(dir, 'tsconfig.json'), JSON.stringify({
    compilerOptions: {
      target: 'ES2022',
      module: 'NodeNext',
      moduleResolution: 'NodeNext',
      lib: ['ES2022'],
      types: ['node'],
      strict: true,
      noUnusedLocals: true,
      noImplicitOverride: true,
      skipLibCheck: true,
      rootDir: 'src',
      outDir: 'out'
    },
    include: ['src/*.ts']
  }))
  const compiled = await run(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', dir], { cwd: dir })
    .then(() => '', (err: { stdout?: string }) => err.stdout ?? String(err))
  // tsc names src/README-L32.ts(5,3): the block that starts at README.md line 32, its line 5.
  t.equal(compiled, '', `${checked.length} examples compile (${checked.map((e) => e.where).join(', ')})`)
  if (compiled !== '') return

  for (const e of checked.filter((x) => x.mode === 'run')) {
    const cwd = await tempDir(t, 'scuttledb-doc-')
    const child = spawn(process.execPath, [join(dir, 'out', `${e.name}.js`)], { cwd, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (s: string) => { stdout += s })
    child.stderr.setEncoding('utf8').on('data', (s: string) => { stderr += s })
    // A generous bound that only a hang reaches: an example that never exits is the defect.
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000)
    const [code, signal] = await once(child, 'exit') as [number | null, NodeJS.Signals | null]
    clearTimeout(timer)
    t.equal(signal === null ? code : signal, 0, `${e.where} runs and exits 0 by itself${stderr === '' ? '' : ` (stderr: ${stderr.trim()})`}`)
    if (e.prints !== undefined) t.ok(stdout.includes(e.prints), `${e.where} prints "${e.prints}" (printed ${JSON.stringify(stdout)})`)
  }
})
