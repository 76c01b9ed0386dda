import test from 'tape'
import { execFileSync } from 'node:child_process'
import { call, launchProfile, serveApp } from './fixtures/browser-pages.js'
import { tempDir } from './helpers.js'

// A browser peer's "after a crash nothing acknowledged is lost": Chromium killed
// with SIGKILL while the page writes, then started again on the same profile.

/** Every process of the Chromium running on profile `dir`, killed with SIGKILL; how many there were. */
function killChromium (dir: string): number {
  const pids = execFileSync('pgrep', ['-f', '--', `--user-data-dir=${dir}`], { encoding: 'utf8' }).trim().split('\n').filter(Boolean)
  for (const pid of pids) {
    try { process.kill(Number(pid), 'SIGKILL') } catch {}
  }
  return pids.length
}

test('Chromium killed with SIGKILL while a page writes: started again on its profile, the page has every acknowledged write and goes on', async (t) => {
  const profile = await tempDir(t, 'scuttledb-profile-')
  const url = await serveApp(t)
  const first = await launchProfile(t, profile)
  const page = await first.newPage()
  await page.goto(url)
  await page.waitForFunction(() => 'app' in globalThis)
  await call(page, 'open', 'db-killed')
  await call(page, 'writeMany', 'w')
  await page.waitForFunction(() => (globalThis as any).app.acked() >= 300, undefined, { timeout: 60_000 })
  const acked = await call(page, 'acked') as number
  const closed = new Promise<void>((resolve) => { first.once('close', () => { resolve() }) })
  t.ok(killChromium(profile) > 0, `Chromium killed with SIGKILL after ${acked} acknowledged writes, more in flight`)
  await closed

  const second = await launchProfile(t, profile)
  const again = await second.newPage()
  await again.goto(url)
  await again.waitForFunction(() => 'app' in globalThis)
  await call(again, 'open', 'db-killed')
  t.deepEqual(await call(again, 'missing', 'w', acked), [], `all ${acked} acknowledged writes are in IndexedDB`)
  await call(again, 'set', 'after', 'yes')
  t.equal(await call(again, 'get', 'after'), 'yes', 'the database takes new writes')
  await call(again, 'close')
})
