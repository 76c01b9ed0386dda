import { readFile, realpath, stat } from 'node:fs/promises'
import { isAbsolute, relative, resolve, sep } from 'node:path'
import { createSecureContext } from 'node:tls'
import { hasCode } from '../net/errors.js'
import type { TlsOptions } from '../net/tcp.js'
import { securityCodes, securityError, SecurityError } from '../security/errors.js'
import { generateKeyFile, loadKeys, MAX_RSA_BITS, MIN_RSA_BITS, publicKeyFromPem, type KeyPair } from '../security/keys.js'
import { help, parse, str, usageError } from './args.js'
import type { Terminal } from './serve.js'

/** Why a file named on the command line cannot be used, in words. */
const FILE_ERRORS: Record<string, string> = {
  ENOENT: 'no such file',
  EACCES: 'permission denied',
  EPERM: 'permission denied',
  EISDIR: 'a directory, not a file',
  ENOTDIR: 'a path through something that is not a directory',
  ELOOP: 'too many symbolic links'
}

/** A file system error about a path given as `what` (e.g. `--key node.key`), as a usage error; others pass. */
function fileError (err: unknown, what: string): unknown {
  const code = (err as NodeJS.ErrnoException).code
  if (code !== undefined && code in FILE_ERRORS) return usageError(`Cannot use ${what}: ${FILE_ERRORS[code]} (${code})`)
  return err
}

/** Read a file named by an option; a missing or unreadable one is a usage error. */
export async function readArg (path: string, what: string): Promise<Buffer> {
  try {
    return await readFile(path)
  } catch (err) {
    throw fileError(err, what)
  }
}

/**
 * The node's key pair from `--key`: a missing or unreadable file is
 * SCUTTLEDB_USAGE, one that group or others can read SCUTTLEDB_KEY_PERMISSIONS,
 * one that holds no usable private key SCUTTLEDB_INVALID_KEY.
 */
export async function loadNodeKeys (path: string): Promise<KeyPair> {
  const what = `--key ${path}`
  try {
    if (!(await stat(path)).isFile()) throw usageError(`Cannot use ${what}: not a regular file`)
    return await loadKeys(path)
  } catch (err) {
    if (err instanceof SecurityError && err.code === securityCodes.INVALID_KEY) {
      // The command takes no passphrase: say the key is encrypted rather than "a wrong passphrase".
      const text = await readFile(path, 'latin1').catch(() => '')
      if (ENCRYPTED_PEM.test(text)) {
        throw securityError(securityCodes.INVALID_KEY, `${what}: the private key is encrypted, and the command reads unencrypted PEM keys only (decrypt a copy: openssl pkey -in ${path} -out NEW.key)`, err)
      }
      // Not "keygen PATH": PATH exists, and keygen never overwrites a key.
      throw securityError(securityCodes.INVALID_KEY, `${what}: ${err.message}; make a new key with "scuttledb keygen NEW.key"`, err)
    }
    throw fileError(err, what)
  }
}

/** An encrypted PEM private key: PKCS#8 (ENCRYPTED PRIVATE KEY) or the legacy Proc-Type header. */
const ENCRYPTED_PEM = /-----BEGIN ENCRYPTED PRIVATE KEY-----|Proc-Type: *4, *ENCRYPTED/

/**
 * `--static DIR` is served without a token: refuse it when DIR holds a secret the
 * node was given (its key, its HTTP tokens, its TLS key) or its database, which
 * anyone could then download. Paths are compared after resolving symbolic links.
 */
export async function refuseSecretsUnder (dir: string, secrets: Array<[path: string | undefined, option: string]>): Promise<void> {
  const real = async (path: string): Promise<string> => await realpath(path).catch(() => resolve(path))
  const root = await real(dir)
  for (const [path, option] of secrets) {
    if (path === undefined) continue
    const rel = relative(root, await real(path))
    if (!(rel === '..' || rel.startsWith('..' + sep) || isAbsolute(rel))) {
      throw usageError(`--static ${dir} holds ${option} ${path}, and its files are served to anyone without a token: serve a directory of the web app alone`)
    }
  }
}

/** A node id: base64url of a SHA-256 (43 characters), what `scuttledb id` prints. */
const KEY_ID = /^[A-Za-z0-9_-]{43}$/

/** True for an id that is a key's (a hash), not a random one: its database belongs to a node that signs. */
export function isKeyId (id: string): boolean {
  return KEY_ID.test(id)
}

/** `--allow` values: repeatable, each possibly comma-separated; every one must be a key id. */
export function parseAllow (values: string[]): string[] {
  const ids = new Set<string>()
  for (const value of values) {
    for (const part of value.split(',')) {
      const id = part.trim()
      if (id.length === 0) continue
      if (!isKeyId(id)) throw usageError(`--allow "${id}" is not a node id (43 base64url characters, as "scuttledb id FILE.pub" prints)`)
      ids.add(id)
    }
  }
  if (ids.size === 0) throw usageError('--allow needs at least one node id')
  return [...ids]
}

/** TLS material of `scuttledb serve`, read and checked. */
export interface TlsFiles {
  /** Serve TLS and WSS with these. */
  server?: TlsOptions & { cert: Buffer, key: Buffer }
  /** Trust these for outgoing TLS. */
  ca?: Buffer
}

/** Read `--tls-cert`, `--tls-key` and `--tls-ca`; cert and key go together; unusable material is a usage error. */
export async function loadTls (cert: string | undefined, key: string | undefined, ca: string | undefined): Promise<TlsFiles> {
  if ((cert === undefined) !== (key === undefined)) throw usageError('--tls-cert and --tls-key go together: give both, or neither')
  const out: TlsFiles = {}
  if (cert !== undefined && key !== undefined) {
    out.server = { cert: await readArg(cert, `--tls-cert ${cert}`), key: await readArg(key, `--tls-key ${key}`) }
    try {
      createSecureContext(out.server)
    } catch (err) {
      throw usageError(`--tls-cert ${cert} and --tls-key ${key} are not a usable PEM certificate and its key (${(err as Error).message})`)
    }
  }
  if (ca !== undefined) {
    out.ca = await readArg(ca, `--tls-ca ${ca}`)
    try {
      createSecureContext({ ca: out.ca })
    } catch (err) {
      throw usageError(`--tls-ca ${ca} is not a usable PEM certificate (${(err as Error).message})`)
    }
  }
  return out
}

/** `scuttledb keygen [--type ed25519|rsa] [--bits N] PATH`. */
export async function keygen (args: string[], term: Terminal): Promise<number> {
  const { values, positionals } = parse(args, { type: { type: 'string' }, bits: { type: 'string' } })
  if (values.help === true) {
    term.stdout.write(help.keygen)
    return 0
  }
  if (positionals.length !== 1) throw usageError(`expected 1 argument (the key file to write), got ${positionals.length}`, help.keygen)
  const type = str(values, 'type') ?? 'ed25519'
  if (type !== 'ed25519' && type !== 'rsa') throw usageError(`--type must be ed25519 or rsa, not "${type}"`)
  const bits = str(values, 'bits')
  if (bits !== undefined && type !== 'rsa') throw usageError('--bits applies to --type rsa only')
  if (bits !== undefined && (!/^\d+$/.test(bits) || Number(bits) < MIN_RSA_BITS || Number(bits) > MAX_RSA_BITS)) {
    throw usageError(`--bits must be a number from ${MIN_RSA_BITS} to ${MAX_RSA_BITS}, not "${bits}"`)
  }
  const path = resolve(positionals[0])
  // Check the .pub file first too: otherwise a private key would be written and left without it.
  for (const file of [path, `${path}.pub`]) {
    const exists = await stat(file).then(() => true, (err: unknown) => {
      if (hasCode(err, 'ENOENT')) return false
      throw fileError(err, file)
    })
    if (exists) throw securityError(securityCodes.KEY_EXISTS, `${file} exists; refusing to overwrite a key (its id would be lost): choose another path, or remove it first`)
  }
  let saved
  try {
    saved = await generateKeyFile(path, { type, ...(bits === undefined ? {} : { modulusLength: Number(bits) }) })
  } catch (err) {
    throw fileError(err, `keygen ${path}`)
  }
  term.stdout.write([
    `id           ${saved.id}`,
    `private key  ${saved.path}  (${type}, mode 0600: keep it secret; scuttledb serve --key ${saved.path})`,
    `public key   ${saved.publicPath}  (share it, or the id, for --allow)`
  ].join('\n') + '\n')
  return 0
}

/** `scuttledb id FILE`: the node id of a PEM public key. */
export async function printId (args: string[], term: Terminal): Promise<number> {
  const { values, positionals } = parse(args, {})
  if (values.help === true) {
    term.stdout.write(help.id)
    return 0
  }
  if (positionals.length !== 1) throw usageError(`expected 1 argument (a public key file), got ${positionals.length}`, help.id)
  const file = positionals[0]
  const pem = await readArg(file, file)
  let id: string
  try {
    id = publicKeyFromPem(pem).id
  } catch (err) {
    throw err instanceof SecurityError ? securityError(err.code, `${file}: ${err.message}`, err) : err
  }
  term.stdout.write(id + '\n')
  return 0
}
