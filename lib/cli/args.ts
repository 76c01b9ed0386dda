import { parseArgs, type ParseArgsConfig } from 'node:util'
import { netCodes, netError, NetError } from '../net/errors.js'
import { MAX_TIMER_MS } from '../net/keepalive.js'

/** The default replication (TCP) port of `scuttledb serve`. */
export const DEFAULT_PORT = 4100
/** The default HTTP API port of `scuttledb serve`, and where client commands look for a node. */
export const DEFAULT_HTTP_PORT = 4101
/** The default `--max-connections` of `scuttledb serve`: incoming connections per listener. */
export const DEFAULT_MAX_CONNECTIONS = 256
/** The default host everything binds to: this machine only. */
export const DEFAULT_HOST = '127.0.0.1'
/** The default node URL of client commands. */
export const DEFAULT_NODE = `http://${DEFAULT_HOST}:${DEFAULT_HTTP_PORT}`

/** A mistake on the command line (exit status 2); `usage`, when given, is printed after the one-line error. */
export function usageError (message: string, usage?: string): NetError {
  const err = netError(netCodes.USAGE, message)
  if (usage !== undefined) Object.defineProperty(err, 'usage', { value: usage, enumerable: false })
  return err
}

/** The usage text a usage error carries, if any. */
export function usageOf (err: unknown): string | undefined {
  const usage = (err as { usage?: unknown } | null)?.usage
  return typeof usage === 'string' ? usage : undefined
}

type Options = NonNullable<ParseArgsConfig['options']>

/** The parsed options of one command. */
export type Values = Record<string, string | boolean | string[] | undefined>

/** Parse one command's arguments strictly; unknown options are usage errors. */
export function parse (args: string[], options: Options): { values: Values, positionals: string[] } {
  const all: Options = { ...options, help: { type: 'boolean', short: 'h' } }
  try {
    const { values, positionals } = parseArgs({ args: hideNegativeNumbers(joinDashValues(args, all)), options: all, allowPositionals: true, strict: true })
    checkNotEmpty(values as Values)
    return { values: values as Values, positionals: positionals.map(unhide) }
  } catch (err) {
    if (hasUsageCode(err)) throw err
    throw usageError(parseArgsMessage(err as NodeJS.ErrnoException))
  }
}

/** Options whose empty value means something: `ls --after ''` starts after the empty key. */
const MAY_BE_EMPTY = new Set(['after'])

/**
 * An empty option value is a mistake (an unset shell variable, `--db "$DIR"`):
 * taken as is, `--db ''` opened the working directory as a database, writing
 * LevelDB's files among the user's.
 */
function checkNotEmpty (values: Values): void {
  for (const [name, value] of Object.entries(values)) {
    if (MAY_BE_EMPTY.has(name)) continue
    if (value === '' || (Array.isArray(value) && value.includes(''))) throw usageError(`--${name} needs a value, not an empty string`)
  }
}

function hasUsageCode (err: unknown): boolean {
  return (err as { code?: unknown } | null)?.code === netCodes.USAGE
}

/** A JSON number below zero, as a whole argument: `scuttledb set k -5` means the value -5, not an option `-5`. */
const NEGATIVE_NUMBER = /^-(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?$/
/** Marks a negative number while parseArgs runs (it takes every argument starting with `-` for an option). */
const HIDDEN = '\u0000number:'

function hideNegativeNumbers (args: string[]): string[] {
  const end = args.indexOf('--')
  return args.map((arg, i) => (end === -1 || i < end) && NEGATIVE_NUMBER.test(arg) ? HIDDEN + arg : arg)
}

function unhide (positional: string): string {
  return positional.startsWith(HIDDEN) ? positional.slice(HIDDEN.length) : positional
}

/**
 * `--opt VALUE` as `--opt=VALUE` when VALUE starts with a dash but is no option
 * of the command: parseArgs refuses it as ambiguous, and a node id (base64url)
 * starts with `-` one time in 64, e.g. `--allow "$(scuttledb id b.key.pub)"`.
 */
function joinDashValues (args: string[], options: Options): string[] {
  const names = new Set<string>()
  for (const [name, option] of Object.entries(options)) {
    names.add(`--${name}`)
    if (option.short !== undefined) names.add(`-${option.short}`)
  }
  const out: string[] = []
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]
    if (arg === '--') return [...out, ...args.slice(i)]
    const next = args[i + 1]
    const name = arg.startsWith('--') ? arg.slice(2) : undefined
    if (name !== undefined && options[name]?.type === 'string' && next !== undefined && next.startsWith('-') && next !== '--' && !names.has(next.split('=')[0])) {
      out.push(`${arg}=${next}`)
      i++
    } else {
      out.push(arg)
    }
  }
  return out
}

/**
 * parseArgs' message in one short sentence: its unknown-option message goes on
 * with advice about `--` whose quotes do not balance (`as in '-- "--bogus"`).
 */
function parseArgsMessage (err: NodeJS.ErrnoException): string {
  const option = /^Unknown option '([^']*)'/.exec(err.message)
  if (err.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' && option !== null) return `unknown option ${option[1]} (see --help)`
  const missing = /^Option '([^' ]+)(?: <value>)?' argument missing/.exec(err.message)
  if (missing !== null) return `${missing[1]} needs a value`
  const ambiguous = /^Option '([^' ]+)' argument is ambiguous/.exec(err.message)
  if (ambiguous !== null) return `${ambiguous[1]} needs a value, not another option (for a value starting with "-", write ${ambiguous[1]}=VALUE)`
  return err.message
}

/** A string option's value, or undefined. */
export function str (values: Values, name: string): string | undefined {
  const v = values[name]
  return typeof v === 'string' ? v : undefined
}

/** A port option: an integer 0-65535 (0: any free port), or `off` for false when allowed. */
export function portOption (value: string | undefined, fallback: number | false, name: string, allowOff = false): number | false {
  if (value === undefined) return fallback
  if (allowOff && value === 'off') return false
  if (!/^\d{1,5}$/.test(value) || Number(value) > 65535) {
    throw netError(netCodes.BAD_ADDRESS, `--${name} must be a port number from 0 to 65535${allowOff ? ' or off' : ''}, not "${value}"`)
  }
  return Number(value)
}

/** A duration option in ms (a positive integer). */
export function msArg (value: string | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback
  if (!/^\d+$/.test(value) || Number(value) <= 0 || Number(value) > MAX_TIMER_MS) throw usageError(`--${name} must be a positive number of milliseconds (at most ${MAX_TIMER_MS}), not "${value}"`)
  return Number(value)
}

const BYTE_UNITS: Record<string, number> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }

/** A byte size: digits with an optional binary unit (`128M` is 128 MiB; K, M, G, any case, an optional `iB` or `B`). */
export function bytesArg (value: string | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback
  const match = /^(\d{1,12})([kmg]?)(?:i?b)?$/i.exec(value)
  const bytes = match === null ? 0 : Number(match[1]) * BYTE_UNITS[match[2].toLowerCase()]
  if (!(bytes > 0 && Number.isSafeInteger(bytes))) throw usageError(`--${name} must be a positive number of bytes (e.g. 134217728 or 128M), not "${value}"`)
  return bytes
}

/** A peer address `host:port` or `[ipv6]:port`. */
export interface HostPort {
  host: string
  port: number
}

/** A `--peer`: where to dial, and whether over TLS. */
export interface PeerTarget extends HostPort {
  tls: boolean
}

/**
 * Parse a `--peer`: `host:port`, or `tcp://host:port` / `tls://host:port` to
 * choose the transport; without a scheme it is TLS when `tlsDefault` (the node
 * was given TLS options), else plain TCP.
 */
export function parsePeer (text: string, tlsDefault: boolean): PeerTarget {
  const scheme = /^([a-z]+):\/\//i.exec(text)
  if (scheme === null) return { ...parseHostPort(text, '--peer'), tls: tlsDefault }
  const name = scheme[1].toLowerCase()
  if (name !== 'tcp' && name !== 'tls') {
    throw netError(netCodes.BAD_ADDRESS, `Bad --peer "${text}": the scheme must be tcp:// or tls://`)
  }
  return { ...parseHostPort(text.slice(scheme[0].length), '--peer'), tls: name === 'tls' }
}

/** Parse `host:port` (IPv6 in brackets); a bad one is SCUTTLEDB_BAD_ADDRESS. */
export function parseHostPort (text: string, what = 'address'): HostPort {
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^:\s/[\]]+)):(\d{1,5})$/.exec(text)
  const port = match === null ? NaN : Number(match[3])
  if (match === null || port < 1 || port > 65535) {
    throw netError(netCodes.BAD_ADDRESS, `Bad ${what} "${text}": expected host:port, e.g. 127.0.0.1:${DEFAULT_PORT}`)
  }
  return { host: match[1] ?? match[2], port }
}

/** Parse a node URL for client commands (http only). */
export function parseNodeUrl (text: string): URL {
  let url: URL
  try {
    url = new URL(/^[a-z]+:\/\//i.test(text) ? text : `http://${text}`)
  } catch (err) {
    throw netError(netCodes.BAD_ADDRESS, `Bad --node "${text}": expected a URL like ${DEFAULT_NODE}`, err)
  }
  if (url.protocol !== 'http:') throw netError(netCodes.BAD_ADDRESS, `Bad --node "${text}": only http:// is supported`)
  return url
}

/** Parse a value given on the command line: JSON when it parses, else the text itself. */
export function parseValue (text: string, raw: boolean): unknown {
  if (raw) return text
  try {
    return JSON.parse(text)
  } catch {
    return text
  }
}

/** Help texts, one per command. */
export const help: Record<string, string> = {
  main: `Usage: scuttledb <command> [options]

A crash-durable, replicated key-value store (scuttlebutt on LevelDB).

Commands:
  serve            run a node: replication over TCP (and WebSocket), an HTTP API
  get KEY          print a key's value (JSON)
  set KEY VALUE    set a key (VALUE is JSON, or taken as a string)
  del KEY          delete a key
  ls               list keys and values
  watch            print live changes as JSON lines (needs a running node)
  dump             write every key and value as JSON lines
  load [FILE]      read JSON lines {"key","value"} from FILE or stdin
  status           print a node's id, clock, peers and sync state
  export FILE      write a consistent backup of a database to FILE
  import FILE      restore a backup into a new database (--db DIR)
  keygen PATH      make a signing key: PATH (private, 0600) and PATH.pub
  id FILE          print the node id of a public key file

Client commands talk to a running node (--node URL, default ${DEFAULT_NODE})
or open a database directory directly (--db DIR, when no node runs on it;
writes to the database of a node that signs also need its --key FILE).
A node with --http-token-file needs a token: --token-file FILE (one token,
mode 0600) or the environment variable SCUTTLEDB_TOKEN.
Run "scuttledb <command> --help" for a command's options,
"scuttledb --version" for the version.
`,
  serve: `Usage: scuttledb serve [options]

Run a node until SIGINT or SIGTERM (a second signal exits at once).

Options:
  --db DIR               database directory (default ./data)
  --host HOST            address to bind (default ${DEFAULT_HOST}: this machine only)
  --port PORT            replication port, TCP (default ${DEFAULT_PORT}; 0: any free port)
  --ws PORT              also accept replication over WebSocket on PORT
  --http PORT            HTTP API port (default ${DEFAULT_HTTP_PORT}; off: none)
  --http-host HOST       address the HTTP API binds (default: --host)
  --http-token-file FILE bearer tokens of the HTTP API, one "read TOKEN" or
                         "read-write TOKEN" a line; required with --key
  --http-open            with --key: leave the HTTP API open (no tokens)
  --static DIR           serve the files in DIR (a web app) on the HTTP port too
  --cors ORIGIN          answer browsers from ORIGIN with CORS headers
                         (repeatable or comma-separated; * for any)
  --peer HOST:PORT       connect to another node (repeatable); reconnects by itself
  --max-peers N          also keep N connections to nodes learned from peers
                         (peer exchange; default 6; 0: only the --peer ones)
  --advertise HOST:PORT  the replication address peers tell others (default:
                         the listening one; off: none, e.g. behind NAT)
  --rotate-peers MS      replace one learned connection every MS (default 60000; off)
  --max-connections N    accept at most N incoming connections at once on --port,
                         and N on --ws; further ones are refused (default ${DEFAULT_MAX_CONNECTIONS})
  --max-buffered-bytes N bytes of unfinished frames (and WebSocket messages) the
                         connections of --port, and of --ws, may hold together;
                         past it the largest holder is dropped with
                         SCUTTLEDB_OVERLOADED (default 128M; at least 16M + 4)
  --sync                 fsync every commit (survives power loss, slower)
  --accept-restore       a database just imported (same id) takes writes at once,
                         not only after syncing with a peer (it is the latest state)
  --keepalive MS         heartbeat interval (default 15000)
  --idle-timeout MS      drop a peer silent for this long (default 45000)
  --handshake-timeout MS drop a connection that has not introduced itself (default 10000)
  -h, --help             show this help

Security (see docs/security.md):
  --key FILE             sign every write with this key (made by "scuttledb keygen"),
                         verify every remote update, and make every peer prove its
                         id on connecting (both ways, every transport); the node's id
                         is the key's id, so the database must be new or made with it
  --allow ID             with --key: only this id may connect and write (repeatable,
                         or comma-separated); default: any peer that proves an id
  --tls-cert FILE        serve TLS on --port and WSS on --ws with this PEM certificate
  --tls-key FILE         ... and this PEM private key (both or neither)
  --tls-ca FILE          trust this PEM certificate (or CA) for --peer connections
                         instead of the system's; e.g. a self-signed peer's --tls-cert

With --tls-cert or --tls-ca, --peer HOST:PORT dials TLS; tcp://HOST:PORT or
tls://HOST:PORT chooses per peer.
`,
  get: 'Usage: scuttledb get KEY [--node URL | --db DIR]\n\nPrint the value of KEY as JSON. Exit status 1 when it is absent.\n',
  set: 'Usage: scuttledb set KEY VALUE [--raw] [--node URL | --db DIR [--key FILE]]\n\nSet KEY. VALUE is parsed as JSON when it can be, else stored as a string;\n--raw always stores the string. Returns once the write is durable.\n\n--key: the database\'s signing key (needed when a node with --key made it).\n',
  del: 'Usage: scuttledb del KEY [--node URL | --db DIR [--key FILE]]\n\nDelete KEY (the deletion replicates).\n\n--key: the database\'s signing key (needed when a node with --key made it).\n',
  ls: 'Usage: scuttledb ls [--after KEY] [--limit N] [--node URL | --db DIR]\n\nPrint "KEY<TAB>JSON" lines in key order, starting after KEY, at most N.\n',
  watch: 'Usage: scuttledb watch [--node URL] [--token-file FILE]\n\nPrint each change as a JSON line {"key","value","ts","source"} until interrupted.\nA dropped connection is resumed (Last-Event-ID) after a backoff: no change is\nmissed or repeated.\n',
  dump: 'Usage: scuttledb dump [--node URL | --db DIR]\n\nWrite every key as a JSON line {"key","value"}, in key order.\n',
  load: 'Usage: scuttledb load [FILE] [--node URL | --db DIR [--key FILE]]\n\nRead JSON lines {"key","value"} from FILE (or stdin) and set each key\n(a null value deletes it). Prints how many were loaded.\n\n--key: the database\'s signing key (needed when a node with --key made it).\n',
  status: 'Usage: scuttledb status [--node URL | --db DIR]\n\nPrint the node\'s id, clock, peers and sync state as JSON.\n',
  export: `Usage: scuttledb export [--node URL [--token-file FILE] [--idle-timeout MS] | --db DIR] FILE

Write a consistent snapshot of a database to FILE (which must not exist):
from a running node (GET /export; a read token when it has tokens) or from a
database directory no node runs on. FILE appears only once whole and checked.
A node that sends nothing for --idle-timeout ms (default 60000) is given up on.
`,
  import: `Usage: scuttledb import FILE --db DIR [--new-id]

Restore a backup made by "scuttledb export" into DIR, a new (absent or empty)
directory. The whole file is checked first: a truncated or altered one is
refused and nothing is written. The restored database keeps the backup's id
(restore a node in place of the one that was lost), or with --new-id takes a
new one (a copy that joins as another node). Start it with "scuttledb serve";
it syncs what it lacks from its peers.
`,
  keygen: `Usage: scuttledb keygen [--type ed25519|rsa] [--bits N] PATH

Make a key pair for "scuttledb serve --key PATH": the private key at PATH
(PKCS#8 PEM, mode 0600) and the public key at PATH.pub (share it, or the id).
Prints the node id the key certifies. Never overwrites an existing file.

Options:
  --type TYPE   ed25519 (default) or rsa
  --bits N      RSA modulus size, 2048 to 8192 (default 3072)
`,
  id: `Usage: scuttledb id FILE

Print the node id of a PEM public key (a .pub file from keygen, a PKCS#1
"RSA PUBLIC KEY" from ssh-keygen -e -m PEM), or of a private key's public half.
Use it to fill --allow.
`
}

/** The options every client command takes. */
export const clientOptions: Options = {
  node: { type: 'string' },
  db: { type: 'string' },
  key: { type: 'string' },
  'token-file': { type: 'string' }
}

/** True for a usage error (exit status 2). */
export function isUsage (err: unknown): boolean {
  return err instanceof NetError && (err.code === netCodes.USAGE || err.code === netCodes.BAD_ADDRESS)
}
