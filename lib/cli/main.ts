#!/usr/bin/env node
/**
 * The `scuttledb` command: `serve` runs a node; the client commands talk to a
 * running node over HTTP or open a database directory; `keygen` and `id` make
 * and read signing keys. Exit status: 0 success,
 * 1 failure (not found, unreachable, locked, ...), 2 a mistake on the command line.
 */
import { readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { codeOf, netCodes } from '../net/errors.js'
import { help, isUsage, usageOf } from './args.js'
import { clientCommands, runClient, type ClientCommand } from './client.js'
import { exportCommand, importCommand } from './backup.js'
import { keygen, printId } from './security.js'
import { serve, type Terminal } from './serve.js'

/**
 * The version in scuttledb's package.json: the nearest one up from this file
 * (dist/cli/ in the package, dist-test/lib/cli/ in the tests' build).
 */
function version (): string {
  for (let dir = dirname(fileURLToPath(import.meta.url)), up = dirname(dir); dir !== up; dir = up, up = dirname(dir)) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: unknown, version?: unknown }
      if (pkg.name === 'scuttledb' && typeof pkg.version === 'string') return pkg.version
    } catch {
      // No package.json here (or not ours): look further up.
    }
  }
  return 'unknown'
}

/**
 * The cause of an error that is not one of ours (a store's
 * LEVEL_DATABASE_NOT_OPEN says only "Database failed to open"; its cause names
 * the path and what was wrong), as `: message`; nothing for our coded errors.
 */
function causeOf (err: Error): string {
  const code = (err as { code?: unknown }).code
  if (typeof code === 'string' && code.startsWith('SCUTTLEDB_')) return ''
  return err.cause instanceof Error ? `: ${err.cause.message}` : ''
}

/** Run the command with `argv` (without node and the script); resolves with the exit status. */
async function main (argv: string[], term: Terminal): Promise<number> {
  const [command, ...args] = argv
  try {
    if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
      term.stdout.write(help.main)
      return command === undefined ? 2 : 0
    }
    if (command === '--version' || command === '-V' || command === 'version') {
      term.stdout.write(`scuttledb ${version()}\n`)
      return 0
    }
    if (command === 'serve') return await serve(args, term)
    if (command === 'export') return await exportCommand(args, term)
    if (command === 'import') return await importCommand(args, term)
    if (command === 'keygen') return await keygen(args, term)
    if (command === 'id') return await printId(args, term)
    if ((clientCommands as readonly string[]).includes(command)) return await runClient(command as ClientCommand, args, term)
    // Like every error line, it ends in its code.
    term.stderr.write(`scuttledb: unknown command "${command}" [${netCodes.USAGE}]\n\n${help.main}`)
    return 2
  } catch (err) {
    const e = err as Error
    // One line for the error (a script can grep it); the usage, if any, after it.
    term.stderr.write(`scuttledb ${command}: ${e.message}${causeOf(e)} [${codeOf(e)}]\n`)
    const usage = usageOf(err)
    if (usage !== undefined) term.stderr.write(`\n${usage}`)
    return isUsage(err) ? 2 : 1
  }
}

const status = await main(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr })
// Let pending output flush, then leave even if a handle (a socket in backoff) lingers.
// writableNeedDrain is not enough: a write to a pipe can still be pending below the
// high-water mark, and process.exit() would cut it (seen: a dump's last line lost
// under load). A write's callback runs once everything written before it is out.
process.exitCode = status
await Promise.all([process.stdout, process.stderr].map(async (stream) => {
  await new Promise<void>((resolve) => { stream.write('', () => { resolve() }) })
}))
process.exit(status)
