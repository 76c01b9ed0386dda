import test from 'tape'
import { execFile } from 'node:child_process'
import { mkdir, readFile, symlink, writeFile } from 'node:fs/promises'
import { dirname, join, resolve } from 'node:path'
import { promisify } from 'node:util'
import { tempDir } from './helpers.js'

const run = promisify(execFile)
const root = resolve(import.meta.dirname, '..', '..')

test('the packed package imports from plain Node: import { Model, Scuttlebutt } from "scuttledb"', async (t) => {
  const dir = await tempDir(t)
  // npm pack uses the built dist/ (npm test builds it first; --ignore-scripts skips "prepare" building it again) and the "files" list.
  const { stdout } = await run('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', dir], { cwd: root })
  const [{ filename }] = JSON.parse(stdout) as Array<{ filename: string }>
  const app = join(dir, 'app')
  await mkdir(join(app, 'node_modules', 'scuttledb'), { recursive: true })
  await run('tar', ['xzf', join(dir, filename), '-C', join(app, 'node_modules', 'scuttledb'), '--strip-components', '1'])
  // The package's own dependencies resolve from a node_modules one level up (the repo's), no network needed.
  await symlink(join(root, 'node_modules'), join(dir, 'node_modules'), 'dir')
  await writeFile(join(app, 'main.mjs'), `
    import { Model, Scuttlebutt, Events } from 'scuttledb'
    const m = new Model({ db: ${JSON.stringify(join(dir, 'db'))} })
    await m.open()
    await m.set('k', 'v')
    console.log(JSON.stringify({ value: await m.get('k'), base: m instanceof Scuttlebutt, events: typeof Events }))
    await m.close()
  `)
  const out = await run(process.execPath, ['main.mjs'], { cwd: app })
  t.deepEqual(JSON.parse(out.stdout), { value: 'v', base: true, events: 'function' }, 'works from the tarball')
})

test('the browser entry imports nothing Node-only (no sockets, files, node:crypto or ws)', async (t) => {
  const seen = new Set<string>()
  const external = new Set<string>()
  const visit = async (file: string): Promise<void> => {
    if (seen.has(file)) return
    seen.add(file)
    const text = await readFile(file, 'utf8')
    for (const [, spec] of text.matchAll(/^(?:import|export)\s[^'"]*?from\s+'([^']+)'/gm)) {
      if (spec.startsWith('.')) await visit(resolve(dirname(file), spec))
      else external.add(spec)
    }
  }
  await visit(join(root, 'dist', 'browser.js'))
  const forbidden = [...external].filter((spec) => ['node:net', 'node:tls', 'node:fs', 'node:fs/promises', 'node:crypto', 'node:http', 'ws', 'classic-level'].includes(spec))
  t.ok(seen.size > 5, `walked ${seen.size} modules`)
  t.deepEqual(forbidden, [], `imports only ${[...external].sort().join(', ')}`)
})
