#!/usr/bin/env node
// serve.mjs -- the server half of `make bench`: `atcr-verify serve` measured side by side, in
// one run, with (a) bench/ts-ref-server.mjs, a Gatekeeper provider on the official TypeScript
// libraries doing the same work, and (b) bench/noop-server, a do-nothing TLS responder on the
// same HTTP/TLS stack (the most this machine can show).
//
//   node bench/serve.mjs --build DIR [--rounds N] [--seconds S] [--connections C] [--cold N]
//                        [--no-profile] [--json FILE]
//
//   1. cold: a server started with an empty cache answers one POST /gatekeeper/verify for the
//      fixture's signed image (registry, PLC and PDS on loopback: integration/fixture/up.sh);
//      C and TS alternately, N times each (default 5), the median of the request's latency;
//   2. cached: the three servers up at once (an idle one takes no CPU), each warmed for 1 s,
//      then N rounds (default 3) of S seconds (default 5) each, the servers taken in turn with
//      the first one rotating: bench/loadgen with C connections (default 32; one thread each,
//      TLS 1.3 keep-alive, every answer checked) sending POST /gatekeeper/verify with one key,
//      the image pinned by digest. Per run: requests/s, p50/p99, the load generator's CPU and
//      the server's (from /proc). The medians of the rounds are compared;
//   3. a profile of `serve` under the same load (perf record, when perf works here): where its
//      CPU goes by library, and the heaviest functions including what they call;
//   4. the targets: cached throughput >= 2x the TS reference and >= 40% of the do-nothing
//      responder, p99 <= 5 ms; each printed met / NOT MET, never a failure.
// Exit 0 unless the benchmark itself cannot run (a binary missing, a server not starting, a
// wrong answer). Results also go to DIR/bench/serve-results.json (or --json FILE).

import { spawn, spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { cpus, tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { die, f1, f2, run, sortedQuantile, table, uptime } from './lib.mjs'

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const TARGET = { tsRatio: 2, noopShare: 0.4, p99Ms: 5 }
const START_MS = 15000 // a server must say "listening" within this
const STACK_TIMEOUT_MS = 120000
const CLK_TCK = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100

function parseArgs(argv) {
  const a = { build: null, rounds: 3, seconds: 5, connections: 32, cold: 5, profile: true, json: null }
  const num = (k, v, hi) => {
    const n = Number(v)
    if (!Number.isInteger(n) || n < 1 || n > hi) die(`${k}: want 1..${hi}, got ${v}`)
    return n
  }
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i]
    const v = () => (i + 1 < argv.length ? argv[++i] : die(`${k} needs a value`))
    if (k === '--build') a.build = resolve(v())
    else if (k === '--rounds') a.rounds = num(k, v(), 50)
    else if (k === '--seconds') a.seconds = num(k, v(), 600)
    else if (k === '--connections') a.connections = num(k, v(), 1024)
    else if (k === '--cold') a.cold = num(k, v(), 100)
    else if (k === '--no-profile') a.profile = false
    else if (k === '--json') a.json = resolve(v())
    else die(`unknown option ${k}`)
  }
  if (a.build === null) die('usage: serve.mjs --build DIR [--rounds N] [--seconds S] [--connections C] [--cold N] [--no-profile] [--json FILE]')
  return a
}

// ---- servers -------------------------------------------------------------------------------

const live = new Set()

// Starts cmd; resolves when its output says "listening on ... PORT" (the first port named).
function startServer(name, cmd, args) {
  return new Promise((ok, fail) => {
    const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] })
    live.add(p)
    let out = ''
    const timer = setTimeout(() => fail(new Error(`${name}: not listening after ${START_MS} ms:\n${out}`)), START_MS)
    const onData = (d) => {
      out += d
      if (out.length > 65536) out = out.slice(-65536)
      const m = /listening on (?:https:\/\/127\.0\.0\.1:)?([0-9]+)/.exec(out)
      if (m && timer) {
        clearTimeout(timer)
        ok({ name, proc: p, pid: p.pid, port: Number(m[1]), log: () => out })
      }
    }
    p.stdout.on('data', onData)
    p.stderr.on('data', onData)
    p.on('exit', (code) => {
      live.delete(p)
      clearTimeout(timer)
      fail(new Error(`${name}: exited ${code} before listening:\n${out}`))
    })
  })
}

function stopServer(s) {
  return new Promise((ok) => {
    if (s.proc.exitCode !== null || s.proc.signalCode !== null) return ok()
    const kill = setTimeout(() => s.proc.kill('SIGKILL'), 5000)
    s.proc.once('exit', () => {
      clearTimeout(kill)
      live.delete(s.proc)
      ok()
    })
    s.proc.kill('SIGTERM')
  })
}

// user + system CPU seconds of a process so far (all its threads)
function cpuOf(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return (Number(f[11]) + Number(f[12])) / CLK_TCK
}

// ---- the load generator ------------------------------------------------------------------------

function loadgen(ctx, port, { connections, seconds, requests = 10000000 }) {
  const out = join(ctx.work, 'loadgen.json')
  const r = spawnSync(ctx.bin.loadgen, ['run', '--port', String(port), '--ca', ctx.ca, '--mix', ctx.mix,
    '--connections', String(connections), '--requests', String(requests), '--max-seconds', String(seconds),
    '--timeout-ms', '10000', '--out', out], { encoding: 'utf8', timeout: (seconds + 30) * 1000 })
  let res = null
  try {
    res = JSON.parse(readFileSync(out, 'utf8'))
  } catch {
    // reported below
  }
  if (r.status !== 0 || res === null || res.wrong !== 0 || res.errors !== 0) {
    die(`loadgen against port ${port}: exit ${r.status}${r.error ? ` (${r.error.message})` : ''}: ` +
      `${res ? JSON.stringify({ requests: res.requests, wrong: res.wrong, errors: res.errors, samples: res.samples }) : r.stderr}`)
  }
  return res
}

// One measured run: loadgen's figures, its CPU, the server's CPU over the run.
function measure(ctx, s, a) {
  const c0 = cpuOf(s.pid)
  const r = loadgen(ctx, s.port, { connections: a.connections, seconds: a.seconds })
  const serverCpu = cpuOf(s.pid) - c0
  const lgCpu = r.cpu_s.user + r.cpu_s.sys
  return { rps: r.rps, p50: r.latency_ms.p50, p99: r.latency_ms.p99, requests: r.requests, elapsed: r.elapsed_s,
    loadgenCpu: lgCpu / r.elapsed_s, serverCpu: serverCpu / r.elapsed_s }
}

// ---- 1. cold ---------------------------------------------------------------------------------------

async function coldBench(ctx, a) {
  const res = { c: [], ts: [] }
  for (let i = 0; i < a.cold; i++) {
    for (const kind of i % 2 === 0 ? ['c', 'ts'] : ['ts', 'c']) {
      const cache = join(ctx.work, `cold-${kind}-${i}`)
      const s = await ctx.start[kind](cache)
      try {
        const r = loadgen(ctx, s.port, { connections: 1, seconds: 30, requests: 1 })
        res[kind].push(r.latency_ms.max)
      } finally {
        await stopServer(s)
      }
    }
  }
  return { c: sortedQuantile(res.c, 0.5), ts: sortedQuantile(res.ts, 0.5), runs: res }
}

// ---- 2. cached ------------------------------------------------------------------------------------

function cachedBench(ctx, a, servers) {
  for (const s of servers) loadgen(ctx, s.port, { connections: a.connections, seconds: 1 }) // warm-up
  const runs = Object.fromEntries(servers.map((s) => [s.name, []]))
  for (let r = 0; r < a.rounds; r++) {
    for (let k = 0; k < servers.length; k++) {
      const s = servers[(r + k) % servers.length]
      runs[s.name].push(measure(ctx, s, a))
      process.stderr.write('.')
    }
  }
  process.stderr.write('\n')
  const med = (xs, f) => sortedQuantile(xs.map(f), 0.5)
  return Object.fromEntries(servers.map((s) => [s.name, {
    rps: med(runs[s.name], (x) => x.rps), p50: med(runs[s.name], (x) => x.p50), p99: med(runs[s.name], (x) => x.p99),
    loadgenCpu: med(runs[s.name], (x) => x.loadgenCpu), serverCpu: med(runs[s.name], (x) => x.serverCpu), runs: runs[s.name],
  }]))
}

// ---- 3. profile -------------------------------------------------------------------------------------

const GROUPS = [
  ['TLS (libssl, libcrypto)', /libssl|libcrypto/],
  ['HTTP (libevent)', /libevent/],
  ['JSON (jansson)', /libjansson/],
  ['libc (malloc, memcpy, printf, ...)', /libc\.so|ld-linux/],
  ['kernel (TCP on loopback, epoll, futex)', /kernel|vdso/],
  ['atcr-verify itself', /atcr-verify/],
]
// the frames worth naming in the inclusive view: ours and the library entry points we call
const FRAMES = /^(srv_|gk_|atv_|vc_|worker|on_wake|on_https|complete|verify_value|json_(dumps|loadb|pack|decref|delete)|SSL_(read|write|do_handshake)|evhttp_(send_reply|read_cb|parse_)|bufferevent_run_readcb_|epoll_wait|__GI___libc_write|read$)/

async function profileBench(ctx, a, s) {
  const perfOk = spawnSync('perf', ['record', '-o', join(ctx.work, 'probe.data'), '--', 'true'], { encoding: 'utf8' })
  if (perfOk.error || perfOk.status !== 0) return { skipped: `perf record does not work here: ${perfOk.error?.message ?? perfOk.stderr.trim().split('\n').pop()}` }
  const data = join(ctx.work, 'perf.data')
  const secs = Math.max(3, Math.min(a.seconds, 5))
  const lg = spawn(ctx.bin.loadgen, ['run', '--port', String(s.port), '--ca', ctx.ca, '--mix', ctx.mix, '--connections',
    String(a.connections), '--requests', '10000000', '--max-seconds', String(secs + 1), '--timeout-ms', '10000',
    '--out', join(ctx.work, 'profile-load.json')], { stdio: 'ignore' })
  await new Promise((ok) => setTimeout(ok, 500))
  const rec = spawnSync('perf', ['record', '-F', '999', '--call-graph', 'dwarf,16384', '-p', String(s.pid), '-o', data,
    '--', 'sleep', String(secs - 1)], { encoding: 'utf8', timeout: 60000 })
  await new Promise((ok) => lg.once('exit', ok))
  if (rec.status !== 0) return { skipped: `perf record failed: ${rec.stderr.trim().split('\n').pop()}` }
  const report = (args) => run('perf', ['report', '-i', data, '--stdio', '-g', 'none', ...args], { timeout: 300000 })
  const dso = {}
  for (const l of report(['--no-children', '--sort', 'dso']).split('\n')) {
    const m = /^\s+([0-9.]+)%\s+(\S+)/.exec(l)
    if (m) dso[m[2]] = (dso[m[2]] ?? 0) + Number(m[1])
  }
  const groups = GROUPS.map(([name, re]) => [name, Object.entries(dso).filter(([d]) => re.test(d)).reduce((t, [, p]) => t + p, 0)])
  const known = groups.reduce((t, [, p]) => t + p, 0)
  groups.push(['other', Math.max(0, 100 - known)])
  const frames = []
  for (const l of report(['--children', '--sort', 'sym']).split('\n')) {
    const m = /^\s+([0-9.]+)%\s+([0-9.]+)%\s+\[[.k]\]\s+(\S+)/.exec(l)
    // a name listed twice (an inlined copy, a PLT stub) keeps its first, largest line
    if (m && FRAMES.test(m[3]) && frames.length < 24 && !frames.some((x) => x.fn === m[3])) frames.push({ fn: m[3], inclusive: Number(m[1]), self: Number(m[2]) })
  }
  return { seconds: secs - 1, groups, frames }
}

// ---- printing ----------------------------------------------------------------------------------------

function printAll(a, cold, cached, prof, lgNote) {
  const c = cached.serve
  const ts = cached['ts-ref']
  const noop = cached.noop
  console.log(`\n5. Server: POST /gatekeeper/verify, one key, TLS 1.3 keep-alive, ${a.connections} connections (one loadgen thread each),`)
  console.log(`   ${a.rounds} interleaved rounds of ${a.seconds} s per server, medians (all answers checked: 0 wrong, 0 errors)`)
  console.log(table(['server', 'requests/s', 'p50 ms', 'p99 ms', 'server CPU (cores)', 'loadgen CPU (cores)'],
    [['atcr-verify serve (cached verdict)', c, 'serve'], ['TS reference (official libs, cached)', ts, 'ts'], ['do-nothing TLS responder', noop, 'noop']]
      .map(([n, x]) => [n, x.rps.toFixed(0), f2(x.p50), f2(x.p99), f2(x.serverCpu), f2(x.loadgenCpu)])))
  console.log(`   per round (requests/s): serve ${c.runs.map((x) => x.rps.toFixed(0)).join(' ')}; ` +
    `ts-ref ${ts.runs.map((x) => x.rps.toFixed(0)).join(' ')}; noop ${noop.runs.map((x) => x.rps.toFixed(0)).join(' ')}`)
  console.log(`   ${lgNote}`)
  console.log(`\n   Cold verification (empty caches: referrers, manifest, blob, DID document from the PLC, getRecord, proof),`)
  console.log(`   one request to a freshly started server, median of ${a.cold}: serve ${f1(cold.c)} ms, TS reference ${f1(cold.ts)} ms` +
    ` (${f1(cold.ts / cold.c)}x)`)
  if (prof.skipped) {
    console.log(`\n   Profile: skipped (${prof.skipped})`)
  } else {
    console.log(`\n   Profile of serve under that load (perf, ${prof.seconds} s at 999 Hz): its CPU by library`)
    console.log(table(['where', '% of serve CPU'], prof.groups.map(([n, p]) => [n, f1(p)])))
    console.log('   heaviest frames, including what they call:')
    console.log(table(['function', 'inclusive %', 'self %'], prof.frames.map((x) => [x.fn, f1(x.inclusive), f1(x.self)])))
  }
  const rows = [
    ['cached throughput vs TS reference', `>= ${TARGET.tsRatio}x`, `${f2(c.rps / ts.rps)}x`, c.rps / ts.rps >= TARGET.tsRatio],
    ['cached throughput vs do-nothing responder', `>= ${TARGET.noopShare * 100}%`, `${f1((100 * c.rps) / noop.rps)}%`, c.rps / noop.rps >= TARGET.noopShare],
    ['p99 latency, cached', `<= ${TARGET.p99Ms} ms`, `${f2(c.p99)} ms`, c.p99 <= TARGET.p99Ms],
  ]
  console.log('\n   Server targets')
  console.log(table(['target', 'want', 'measured', 'verdict'], rows.map(([n, w, m, ok]) => [n, w, m, ok ? 'met' : 'NOT MET'])))
  return rows.map(([n, w, m, ok]) => ({ target: n, want: w, measured: m, met: ok }))
}

// ---- main ----------------------------------------------------------------------------------------------

async function main() {
  const a = parseArgs(process.argv.slice(2))
  const bin = {
    serve: join(a.build, 'atcr-verify'),
    loadgen: join(a.build, 'bench/loadgen'),
    noop: join(a.build, 'bench/noop-server'),
  }
  for (const b of Object.values(bin)) if (!existsSync(b)) die(`${b} missing (make bench builds it)`)
  if (!existsSync(join(ROOT, 'testdata/tsgen/node_modules/@atproto/repo'))) die('testdata/tsgen/node_modules missing (cd testdata/tsgen && npm ci)')
  const work = mkdtempSync(join(tmpdir(), 'atv-bench-serve-'))
  const state = join(work, 'state')
  const cleanup = () => {
    for (const p of live) p.kill('SIGKILL')
    spawnSync('sh', [join(ROOT, 'integration/fixture/down.sh'), state], { stdio: 'ignore' })
    rmSync(work, { recursive: true, force: true })
  }
  const onSignal = () => {
    cleanup()
    process.exit(130)
  }
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)
  try {
    const started = new Date()
    const load0 = uptime()
    console.log(`\natv bench serve: ${started.toISOString()}, ${cpus().length} CPUs, load ${load0}, node ${process.version}`)
    const up = spawnSync('sh', [join(ROOT, 'integration/fixture/up.sh'), state], { encoding: 'utf8', timeout: STACK_TIMEOUT_MS })
    if (up.status !== 0) die(`the fixture stack did not start:\n${up.stderr}`)
    const env = Object.fromEntries(readFileSync(join(state, 'env'), 'utf8').trim().split('\n').map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]))
    const fx = JSON.parse(readFileSync(join(env.FIXTURE, 'fixture.json'), 'utf8'))
    const alice = fx.accounts.alice.did
    const key = `${env.REGISTRY}/atv/app@${fx.images.good.digest}`

    // a CA and a P-256 leaf for 127.0.0.1; the CA is the load generator's only root
    const pki = join(work, 'pki')
    mkdirSync(pki)
    const P = (f) => join(pki, f)
    const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes']
    run('openssl', ['req', '-x509', ...ec, '-subj', '/CN=atv bench ca', '-days', '1', '-keyout', P('ca.key'), '-out', P('ca.pem')])
    run('openssl', ['req', '-new', ...ec, '-subj', '/CN=atv bench', '-keyout', P('leaf.key'), '-out', P('leaf.csr')])
    writeFileSync(P('ext'), 'subjectAltName=IP:127.0.0.1\n')
    run('openssl', ['x509', '-req', '-in', P('leaf.csr'), '-CA', P('ca.pem'), '-CAkey', P('ca.key'), '-CAcreateserial',
      '-days', '1', '-extfile', P('ext'), '-out', P('leaf.pem')])
    const tls = ['--tls-cert', P('leaf.pem'), '--tls-key', P('leaf.key')]
    const body = join(work, 'body.json')
    writeFileSync(body, JSON.stringify({ apiVersion: 'externaldata.gatekeeper.sh/v1beta1', kind: 'ProviderRequest', request: { keys: [key] } }))
    const mix = join(work, 'mix')
    writeFileSync(mix, `gk POST /gatekeeper/verify ${body} 200 +"allowed":true +"verified":true !systemError\n`)
    const ctx = { work, bin, ca: P('ca.pem'), mix, start: {} }
    ctx.start.c = (cache) => startServer('serve', bin.serve, ['serve', '--listen', '127.0.0.1:0', '--health-listen', '127.0.0.1:0',
      ...tls, '--lame-duck', '0', '--plc', env.PLC, '--trusted-did', alice, '--allow-loopback-http', '--insecure-http',
      '--no-verify-handle', '--verdict-ttl', '3600', '--cache-dir', cache])
    ctx.start.ts = (cache) => startServer('ts-ref', 'node', [join(ROOT, 'bench/ts-ref-server.mjs'), '--cert', P('leaf.pem'),
      '--key', P('leaf.key'), '--plc', env.PLC, '--trusted-did', alice, '--cache-dir', cache])

    const cold = await coldBench(ctx, a)
    const serve = await ctx.start.c(join(work, 'cache-c'))
    const ts = await ctx.start.ts(join(work, 'cache-ts'))
    // the do-nothing responder answers serve's own answer, byte for byte
    const sample = join(work, 'answer.json')
    run('curl', ['-sS', '--max-time', '30', '--cacert', P('ca.pem'), '-H', 'Content-Type: application/json',
      '--data-binary', `@${body}`, '-o', sample, `https://127.0.0.1:${serve.port}/gatekeeper/verify`])
    const noop = await startServer('noop', bin.noop, ['--cert', P('leaf.pem'), '--key', P('leaf.key'), '--body', sample])
    const cached = cachedBench(ctx, a, [serve, ts, noop])
    const prof = a.profile ? await profileBench(ctx, a, serve) : { skipped: '--no-profile' }
    for (const s of [serve, ts, noop]) await stopServer(s)
    const lgNote = `The load generator ran on this machine too: ${f2(cached.serve.loadgenCpu)} cores against serve, ` +
      `${f2(cached.noop.loadgenCpu)} against the do-nothing responder (${cpus().length} CPUs in all).`
    const targets = printAll(a, cold, cached, prof, lgNote)
    const load1 = uptime()
    console.log(`\n   load average (1, 5, 15 min): ${load0} at start, ${load1} at end; ${((Date.now() - started) / 1000).toFixed(0)} s.`)
    const json = a.json ?? join(a.build, 'bench/serve-results.json')
    mkdirSync(dirname(json), { recursive: true })
    writeFileSync(json, JSON.stringify({ started, load: [load0, load1], args: a, cold, cached, profile: prof, targets }, null, 2) + '\n')
    console.log(`   results: ${json}`)
  } finally {
    cleanup()
  }
}

await main()
