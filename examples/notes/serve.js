// One command for the notes example: bundles the page (esbuild, no options
// beyond --bundle --platform=browser) and runs `scuttledb serve` with it as
// --static, so the node serves the page, its HTTP API and WebSocket replication.
//   npm run example                       (builds scuttledb first)
//   node examples/notes/serve.js [serve options]   e.g. --db ./notes-data --http 8080
// Defaults: --db ./notes-data --port 4100 --ws 4102 --http 4101; open the http address it prints.
import { copyFile, mkdtemp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'
import { serve } from '../../dist/cli/serve.js'

const here = dirname(fileURLToPath(import.meta.url))
const site = await mkdtemp(join(tmpdir(), 'scuttledb-notes-'))
await copyFile(join(here, 'index.html'), join(site, 'index.html'))
await build({ entryPoints: [join(here, 'app.js')], bundle: true, platform: 'browser', format: 'esm', minify: true, outfile: join(site, 'app.js'), logLevel: 'warning' })

const args = process.argv.slice(2)
const defaults = { '--db': './notes-data', '--port': '4100', '--ws': '4102', '--http': '4101' }
for (const [name, value] of Object.entries(defaults)) if (!args.includes(name)) args.push(name, value)
process.exitCode = await serve([...args, '--static', site], { stdout: process.stdout, stderr: process.stderr })
process.exit()
