// What `npm pack` ships and what `npm install` sees, checked offline: every
// source map's sources are in the package, the license is, installing from git
// builds the code, and package-lock.json agrees with package.json (else a fresh
// `npm install` rewrites it).
import test from 'tape'
import { execFile } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { join, posix, resolve } from 'node:path'
import { promisify } from 'node:util'

const run = promisify(execFile)
const root = resolve(import.meta.dirname, '..', '..')

interface Manifest {
  name: string
  version: string
  license: string
  bin: Record<string, string>
  engines: Record<string, string>
  scripts: Record<string, string>
  files: string[]
  dependencies: Record<string, string>
  devDependencies: Record<string, string>
}

async function manifest (): Promise<Manifest> {
  return JSON.parse(await readFile(join(root, 'package.json'), 'utf8')) as Manifest
}

test('the package ships the sources every source map names, the LICENSE and the command', async (t) => {
  // --ignore-scripts: "prepare" would build again; npm test built dist/ already.
  const { stdout } = await run('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: root })
  const [{ files }] = JSON.parse(stdout) as Array<{ files: Array<{ path: string }> }>
  const shipped = new Set(files.map((f) => f.path))
  const maps = [...shipped].filter((p) => p.endsWith('.js.map'))
  t.ok(maps.length > 10, `${maps.length} source maps are shipped`)
  const missing: string[] = []
  for (const map of maps) {
    const { sources, sourceRoot = '' } = JSON.parse(await readFile(join(root, map), 'utf8')) as { sources: string[], sourceRoot?: string }
    for (const source of sources) {
      const path = posix.normalize(posix.join(posix.dirname(map), sourceRoot, source))
      if (!shipped.has(path)) missing.push(`${map} -> ${path}`)
    }
  }
  t.deepEqual(missing, [], 'every source a map points at is in the package')
  t.ok(shipped.has('LICENSE'), 'LICENSE is in the package')
  t.ok((await readFile(join(root, 'LICENSE'), 'utf8')).startsWith('MIT License'), 'and it is the MIT license package.json names')
  t.equal((await manifest()).license, 'MIT', 'package.json says MIT')
  const bin = (await manifest()).bin.scuttledb.replace(/^\.\//, '')
  t.ok(shipped.has(bin), `the command ${bin} is in the package`)
  t.ok((await readFile(join(root, bin), 'utf8')).startsWith('#!/usr/bin/env node\n'), 'and starts with a node shebang')
  t.notOk([...shipped].some((p) => p.startsWith('dist-test/') || p.startsWith('test/') || p.startsWith('node_modules/')), 'no tests or dependencies')
})

test('installing from git builds the code: a prepare script runs the build', async (t) => {
  const { scripts } = await manifest()
  // npm runs "prepare" after installing a git dependency (with its devDependencies) and before packing.
  t.equal(scripts.prepare, 'npm run build', 'prepare builds')
  t.ok(/^tsc -p tsconfig\.json$/.test(scripts.build), 'and the build compiles lib/ into dist/')
})

test('package-lock.json agrees with package.json, so npm install leaves it unchanged', async (t) => {
  const pkg = await manifest()
  const lock = JSON.parse(await readFile(join(root, 'package-lock.json'), 'utf8')) as { name: string, version: string, lockfileVersion: number, packages: Record<string, Record<string, unknown>> }
  const top = lock.packages['']
  t.deepEqual([lock.name, lock.version], [pkg.name, pkg.version], 'name and version')
  // npm rewrites the root entry from package.json on every install: each field it copies must already match.
  t.deepEqual(
    { name: top.name, version: top.version, license: top.license, bin: top.bin, engines: top.engines, dependencies: top.dependencies, devDependencies: top.devDependencies },
    { name: pkg.name, version: pkg.version, license: pkg.license, bin: Object.fromEntries(Object.entries(pkg.bin).map(([k, v]) => [k, v.replace(/^\.\//, '')])), engines: pkg.engines, dependencies: pkg.dependencies, devDependencies: pkg.devDependencies },
    'the lock\'s root entry is what npm would write for package.json'
  )
  const pinned = Object.entries({ ...pkg.dependencies, ...pkg.devDependencies }).filter(([, range]) => !/^\d+\.\d+\.\d+$/.test(range))
  t.deepEqual(pinned, [], 'every dependency is pinned to an exact version')
  for (const [name, range] of Object.entries({ ...pkg.dependencies, ...pkg.devDependencies })) {
    const entry = lock.packages[join('node_modules', name)]
    if (entry?.version !== range) t.fail(`${name}: the lock has ${String(entry?.version)}, package.json ${range}`)
  }
  t.pass(`the lock (v${lock.lockfileVersion}) holds exactly the pinned versions`)
})
