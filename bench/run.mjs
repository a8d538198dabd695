#!/usr/bin/env node
// run.mjs -- `make bench`: the performance budget of DESIGN.md, measured in one run, side by
// side with the official TypeScript implementation, printed as tables and ratios.
//
//   node bench/run.mjs --build DIR [--static FILE] [--runs N] [--ts-runs N] [--iters N]
//                      [--ts-iters N] [--skip-plugin] [--json FILE]
//
// --static FILE: also measure that plugin binary (build/static/atproto from `make static`, the
// one Ratify's distroless image runs); ignored when FILE does not exist. The targets are judged
// on each C plugin measured.
//
//   1. proof verification alone, K-256 and P-256 (testdata/proofs/*/record-proof.car):
//      C atv_atp_proof_verify vs TS verifyProofs, and C bare ECDSA (bench_proof -e);
//   2. cost against repository size (bench/proofs/r*/, made by bench/gen-bigrepo.mjs);
//   3. the whole plugin run on the loopback fixture stack (integration/fixture/up.sh), cold and
//      warm, C plugin vs bench/ts-ref-verify.mjs, each run a new process measured by
//      bench/rusage (wall time, ru_maxrss of the child);
//   4. the summary against the targets, each met / not met.
// A missed target is printed, never an error: the exit status is 0 unless the benchmark itself
// could not run (a binary missing, the stack not starting, a verification failing).
// Results also go to DIR/bench/results.json (or --json FILE).

import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { cpus, loadavg, tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { die, f1, f2, run, sortedQuantile, table, uptime } from './lib.mjs'

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const BENCH = join(ROOT, 'bench')
const TARGET = {
  warmMs: 10, // plugin warm run, median, loopback
  tsRatio: 20, // TS reference / C plugin
  proofOverEcdsa: 1.5, // proof verification / one bare ECDSA verification
  rssMiB: 10, // peak RSS of the plugin
  depthSlack: 1.5, // cost may grow at most proportionally to proof depth (x this slack)
}
const MAX_COUNT = 100000
const STACK_TIMEOUT_MS = 120000
const RUN_TIMEOUT_MS = 30000 // per plugin run; rusage kills past it

function parseArgs(argv) {
  const a = { build: null, static: null, runs: 50, tsRuns: 20, iters: 3000, tsIters: 300, skipPlugin: false, json: null }
  const num = (k, v) => {
    const n = Number(v)
    if (!Number.isInteger(n) || n < 1 || n > MAX_COUNT) die(`${k}: want 1..${MAX_COUNT}, got ${v}`)
    return n
  }
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i]
    const v = () => (i + 1 < argv.length ? argv[++i] : die(`${k} needs a value`))
    if (k === '--build') a.build = resolve(v())
    else if (k === '--static') a.static = v()
    else if (k === '--runs') a.runs = num(k, v())
    else if (k === '--ts-runs') a.tsRuns = num(k, v())
    else if (k === '--iters') a.iters = num(k, v())
    else if (k === '--ts-iters') a.tsIters = num(k, v())
    else if (k === '--skip-plugin') a.skipPlugin = true
    else if (k === '--json') a.json = resolve(v())
    else die(`unknown option ${k}`)
  }
  if (a.build === null) die('usage: run.mjs --build DIR [--runs N] [--ts-runs N] [--iters N] [--ts-iters N]')
  if (process.env.BENCH_TS_RUNS) a.tsRuns = num('BENCH_TS_RUNS', process.env.BENCH_TS_RUNS)
  return a
}

// ---- running things --------------------------------------------------------------------------

// "what k=v k=v" lines -> [{what, k: v}]; numeric values become numbers.
function kvLines(text) {
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => {
      const [what, ...kv] = l.trim().split(/\s+/)
      const o = { what }
      for (const p of kv) {
        const eq = p.indexOf('=')
        const k = p.slice(0, eq)
        const v = p.slice(eq + 1)
        o[k] = /^-?[0-9.]+$/.test(v) ? Number(v) : v
      }
      return o
    })
}

// ---- 1. proof verification alone ---------------------------------------------------------------

function proofBench(a, bin) {
  const out = []
  for (const curve of ['k256', 'p256']) {
    const dir = join(ROOT, 'testdata/proofs', curve)
    const fx = JSON.parse(readFileSync(join(dir, 'fixture.json'), 'utf8'))
    const car = join(dir, 'record-proof.car')
    const doc = join(dir, 'did-doc.json')
    const { collection, rkey, cid } = fx.record
    const c = kvLines(run(bin.proof, ['-e', '-n', String(a.iters), curve, car, doc, collection, rkey]))
    const ts = kvLines(run('node', [join(BENCH, 'ts-proof.mjs'), '-n', String(a.tsIters), curve, car, doc, collection, rkey, cid]))
    const p = c.find((x) => x.what === 'proof')
    const e = c.find((x) => x.what === 'ecdsa')
    const t = ts.find((x) => x.what === 'tsproof')
    out.push({ curve, key: p.key, carBytes: p.car_bytes, mstNodes: p.mst_nodes, c: p, ecdsa: e, ts: t })
  }
  return out
}

function printProof(res) {
  console.log('\n== 1. Proof verification alone (CAR parse, MST walk, commit signature, record check)')
  console.log('   same CAR bytes and DID-document key for both; median per operation, microseconds\n')
  console.log(
    table(
      ['curve', 'CAR', 'MST nodes', 'C proof', 'C p90', 'C bare ECDSA', 'proof/ECDSA', 'TS verifyProofs', 'TS p90', 'TS/C'],
      res.map((r) => [
        r.key,
        `${r.carBytes} B`,
        r.mstNodes,
        f1(r.c.median_us),
        f1(r.c.p90_us),
        f1(r.ecdsa.median_us),
        f2(r.c.median_us / r.ecdsa.median_us) + 'x',
        f1(r.ts.median_us),
        f1(r.ts.p90_us),
        f1(r.ts.median_us / r.c.median_us) + 'x',
      ]),
    ),
  )
}

// Instructions per operation (callgrind --toggle-collect), which the load of a shared machine
// cannot disturb: the ratio proof/ECDSA without noise. Skipped without valgrind.
const CG_ITERS = 100

const haveValgrind = () => spawnSync('valgrind', ['--version']).status === 0

// Instructions of one call of fn (one_proof or one_ecdsa) in bench_proof ARGS.
function instructions(bin, fn, args) {
  const v = spawnSync('valgrind', ['--tool=callgrind', '--callgrind-out-file=/dev/null', `--toggle-collect=${fn}`, bin.proof, ...args],
    { encoding: 'utf8' })
  const m = /Collected : ([0-9]+)/.exec(v.stderr ?? '')
  const calls = kvLines(v.stdout ?? '').find((x) => x.what === 'calls')
  if (v.status !== 0 || !m || !calls) die(`callgrind ${fn} ${args.join(' ')} failed:\n${v.stderr}`)
  return Number(m[1]) / (fn === 'one_proof' ? calls.proof : calls.ecdsa)
}

function instrBench(bin) {
  if (!haveValgrind()) return null
  const out = []
  for (const curve of ['k256', 'p256']) {
    const dir = join(ROOT, 'testdata/proofs', curve)
    const fx = JSON.parse(readFileSync(join(dir, 'fixture.json'), 'utf8'))
    const args = ['-e', '-n', String(CG_ITERS), '-w', '1', curve, join(dir, 'record-proof.car'), join(dir, 'did-doc.json'),
      fx.record.collection, fx.record.rkey]
    out.push({ curve, proof: instructions(bin, 'one_proof', args), ecdsa: instructions(bin, 'one_ecdsa', args) })
  }
  return out
}

function printInstr(res) {
  if (res === null) {
    console.log('\n   (valgrind not installed: no instruction counts)')
    return
  }
  console.log('\n   instructions per operation (callgrind, independent of the machine\'s load):\n')
  console.log(
    table(
      ['curve', 'C proof', 'C bare ECDSA', 'proof/ECDSA'],
      res.map((r) => [r.curve === 'k256' ? 'K-256' : 'P-256', Math.round(r.proof).toLocaleString('en-US'),
        Math.round(r.ecdsa).toLocaleString('en-US'), f2(r.proof / r.ecdsa) + 'x']),
    ),
  )
}

// ---- 2. cost against repository size ---------------------------------------------------------

function sizeBench(a, bin) {
  const base = join(BENCH, 'proofs')
  const dirs = existsSync(base) ? readdirSync(base).filter((d) => /^r[0-9]+$/.test(d)) : []
  const out = []
  for (const d of dirs.sort((x, y) => Number(x.slice(1)) - Number(y.slice(1)))) {
    const dir = join(base, d)
    const meta = JSON.parse(readFileSync(join(dir, 'meta.json'), 'utf8'))
    const car = join(dir, 'record-proof.car')
    const doc = join(dir, 'did-doc.json')
    const c = kvLines(run(bin.proof, ['-n', String(a.iters), d, car, doc, meta.collection, meta.rkey]))[0]
    const ts = kvLines(
      run('node', [join(BENCH, 'ts-proof.mjs'), '-n', String(a.tsIters), d, car, doc, meta.collection, meta.rkey, meta.recordCid]),
    )[0]
    const instr = haveValgrind()
      ? instructions(bin, 'one_proof', ['-n', String(CG_ITERS), '-w', '1', d, car, doc, meta.collection, meta.rkey])
      : null
    out.push({ records: meta.records, carBytes: c.car_bytes, mstNodes: c.mst_nodes, c, ts, instr })
  }
  return out
}

// by: 'time' (median) or 'instr' (callgrind; null when not measured)
function depthVerdict(rows, by = 'time') {
  if (rows.length < 2) return null
  const lo = rows[0]
  const hi = rows[rows.length - 1]
  if (by === 'instr' && (lo.instr === null || hi.instr === null)) return null
  const costRatio = by === 'instr' ? hi.instr / lo.instr : hi.c.median_us / lo.c.median_us
  const depthRatio = hi.mstNodes / lo.mstNodes
  const sizeRatio = hi.records / lo.records
  return { lo, hi, costRatio, depthRatio, sizeRatio, met: costRatio <= depthRatio * TARGET.depthSlack }
}

function printSize(rows) {
  console.log('\n== 2. Cost against repository size (getRecord proof of one record, K-256; bench/proofs/)')
  if (rows.length === 0) {
    console.log('   no bench/proofs/r*/: run `make bench-gen` (the 1M-record repository takes minutes)')
    return
  }
  console.log('   median per verification, microseconds\n')
  console.log(
    table(
      ['records', 'CAR', 'MST nodes (depth)', 'C verify', 'C p90', 'C per node', 'C instructions', 'TS verifyProofs', 'TS/C'],
      rows.map((r) => [
        r.records.toLocaleString('en-US'),
        `${r.carBytes} B`,
        r.mstNodes,
        f1(r.c.median_us),
        f1(r.c.p90_us),
        f1(r.c.median_us / r.mstNodes),
        r.instr === null ? '-' : Math.round(r.instr).toLocaleString('en-US'),
        f1(r.ts.median_us),
        f1(r.ts.median_us / r.c.median_us) + 'x',
      ]),
    ),
  )
  const v = depthVerdict(rows)
  const vi = depthVerdict(rows, 'instr')
  if (v) {
    console.log(
      `\n   ${v.sizeRatio.toLocaleString('en-US')}x the records, ${f2(v.depthRatio)}x the MST nodes, ` +
        `${f2(v.costRatio)}x the C time` + (vi ? `, ${f2(vi.costRatio)}x the instructions` : '') + ': ' +
        ((vi ?? v).met ? 'cost follows depth, not size' : 'cost grows faster than depth'),
    )
  }
}

// ---- 3. the whole plugin run ---------------------------------------------------------------------

// The request exactly as ratify-exec.js (Ratify v1.4 emulation) sends it, from --request-out:
// KEY=VALUE lines, "(unset K)" lines, then "stdin (N bytes; ...):" and N bytes.
function parseRequestOut(buf) {
  const marker = buf.indexOf('\nstdin (')
  if (marker < 0) die('ratify-exec --request-out: no stdin line')
  const head = buf.subarray(0, marker).toString('utf8')
  const rest = buf.subarray(marker + 1)
  const nl = rest.indexOf('\n')
  const m = /^stdin \(([0-9]+) bytes/.exec(rest.subarray(0, nl).toString('utf8'))
  if (!m) die('ratify-exec --request-out: bad stdin line')
  const stdin = rest.subarray(nl + 1, nl + 1 + Number(m[1]))
  const env = {}
  for (const line of head.split('\n')) {
    const eq = line.indexOf('=')
    if (eq > 0 && !line.startsWith('(')) env[line.slice(0, eq)] = line.slice(eq + 1)
  }
  return { env, stdin }
}

// A series: one command run again and again, each run a new process under bench/rusage.
// Every series has its own cache directory (and its own stdin naming it), so that series can be
// interleaved: run i of every series, then run i+1, so a change of the machine's load during
// the benchmark falls on all of them alike. cold: the cache directory is emptied before each run
// (rusage -c); warm: it is filled by one unmeasured run first. verdict: every run must exit 0 and
// answer isSuccess true (false for the baselines, which may answer anything).
function makeSeries(work, name, cmd, env, stdin, cachePath, runs, cold, verdict) {
  const dir = join(work, name)
  mkdirSync(dir)
  const cache = join(dir, 'cache')
  let stdinFile = '/dev/null'
  if (stdin !== null) {
    stdinFile = join(dir, 'stdin.json')
    // The request names the cache directory; the rest of its bytes stay as Ratify sends them.
    writeFileSync(stdinFile, stdin.toString('utf8').split(JSON.stringify(cachePath)).join(JSON.stringify(cache)))
  }
  return { name, cmd, env, stdinFile, cache, runs, cold, verdict, out: join(dir, 'out'), err: join(dir, 'err'), lines: [] }
}

function rusageArgs(s) {
  const args = ['-n', '1', '-i', s.stdinFile, '-o', s.out, '-e', s.err, '-t', String(RUN_TIMEOUT_MS)]
  if (s.verdict) args.push('-m', '"isSuccess":true')
  if (s.cold) args.push('-c', s.cache)
  return [...args, '--', ...s.cmd]
}

function runSeries(bin, list) {
  for (const s of list) if (!s.cold) run(bin.rusage, rusageArgs(s), { env: s.env, cwd: '/' }) // prime
  const load0 = uptime()
  const rounds = Math.max(...list.map((s) => s.runs))
  for (let i = 0; i < rounds; i++) {
    for (let j = 0; j < list.length; j++) {
      const s = list[(i + j) % list.length] // rotate, so no series always runs first
      if (s.lines.length >= s.runs) continue
      const line = kvLines(run(bin.rusage, rusageArgs(s), { env: s.env, cwd: '/' })).find((x) => x.what === 'run')
      if (s.verdict && (line.exit !== 0 || line.match !== 1)) {
        die(`${s.name}: run ${i} did not verify (exit ${line.exit}); stdout: ${readFileSync(s.out, 'utf8').slice(0, 400)}\n` +
          `stderr: ${readFileSync(s.err, 'utf8').slice(0, 800)}`)
      }
      s.lines.push(line)
    }
  }
  const res = {}
  for (const s of list) {
    const wall = s.lines.map((x) => x.wall_ms)
    const rss = s.lines.map((x) => x.maxrss_kib)
    res[s.name] = {
      name: s.name, runs: s.lines.length, cold: s.cold, load: load0,
      medianMs: sortedQuantile(wall, 0.5), p90Ms: sortedQuantile(wall, 0.9), minMs: Math.min(...wall),
      peakRssKiB: Math.max(...rss), medianRssKiB: sortedQuantile(rss, 0.5),
    }
  }
  return res
}

function pluginBench(a, bin) {
  const work = mkdtempSync(join(tmpdir(), 'atv-bench-'))
  const state = join(work, 'state')
  const down = () => spawnSync('sh', [join(ROOT, 'integration/fixture/down.sh'), state], { stdio: 'ignore' })
  const onSignal = () => {
    down()
    rmSync(work, { recursive: true, force: true })
    process.exit(130)
  }
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)
  try {
    const up = spawnSync('sh', [join(ROOT, 'integration/fixture/up.sh'), state], { encoding: 'utf8', timeout: STACK_TIMEOUT_MS })
    if (up.status !== 0) die(`the fixture stack did not start:\n${up.stderr}`)
    const sample = join(ROOT, 'testdata/ratify/success-k256.json')
    const checkCache = join(work, 'cache-check')
    const reqOut = join(work, 'request')
    // One checked run of each plugin through the Ratify emulation: the request bytes, and proof
    // that the stack and the plugin work.
    for (const v of bin.plugins) {
      run('node', [join(ROOT, 'integration/ratify/ratify-exec.js'), '--plugin', v.path, '--env-file', join(state, 'env'),
        '--cache-dir', checkCache, '--request-out', reqOut, '--check', sample])
    }
    const { env: reqEnv, stdin } = parseRequestOut(readFileSync(reqOut))
    const env = { ...process.env, ...reqEnv }
    const bareEnv = { ...process.env }
    for (const k of Object.keys(bareEnv)) if (k.startsWith('RATIFY_')) delete bareEnv[k]
    for (const k of Object.keys(env)) if (k.startsWith('RATIFY_') && !(k in reqEnv)) delete env[k]
    const ts = ['node', join(BENCH, 'ts-ref-verify.mjs')]
    const S = (name, cmd, e, runs, cold, verdict = true, input = stdin) =>
      makeSeries(work, name, cmd, e, input, checkCache, runs, cold, verdict)
    const list = [
      ...bin.plugins.flatMap((v) => [S(`${v.id}-cold`, [v.path], env, a.runs, true), S(`${v.id}-warm`, [v.path], env, a.runs, false)]),
      S('ts-cold', ts, env, a.tsRuns, true),
      S('ts-warm', ts, env, a.tsRuns, false),
      S('bintrue', ['/bin/true'], env, a.runs, false, false),
      // process start alone: the plugin with no RATIFY_* variables answers a protocol error at once
      ...bin.plugins.map((v) => S(`${v.id}-startup`, [v.path], bareEnv, a.runs, false, false, null)),
      S('node', ['node', '-e', '0'], env, a.tsRuns, false, false),
    ]
    const r = runSeries(bin, list)
    return {
      sample: 'testdata/ratify/success-k256.json',
      c: bin.plugins.map((v) => ({ ...v, cold: r[`${v.id}-cold`], warm: r[`${v.id}-warm`] })),
      tsCold: r['ts-cold'],
      tsWarm: r['ts-warm'],
      baseline: {
        bintrue: r.bintrue,
        node: r.node,
        startup: bin.plugins.map((v) => ({ id: v.id, ...r[`${v.id}-startup`] })),
      },
    }
  } finally {
    down()
    rmSync(work, { recursive: true, force: true })
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
  }
}

function printPlugin(p) {
  console.log('\n== 3. The whole plugin run (exec to answer), loopback fixture stack, sample success-k256')
  console.log('   registry (manifest + blob), PLC (cold only), PDS getRecord; each run a new process;')
  console.log('   cold = empty cacheDir before each run, warm = DID document cached; the series are interleaved')
  console.log('   (run i of each, then run i+1); wall ms from fork to exit, peak RSS of the child\n')
  const row = (label, s) => [label, s.runs, f2(s.medianMs), f2(s.p90Ms), f2(s.minMs), `${(s.peakRssKiB / 1024).toFixed(1)} MiB`, s.load]
  console.log(
    table(
      ['', 'runs', 'median ms', 'p90 ms', 'min ms', 'peak RSS', 'load at start'],
      [
        ...p.c.flatMap((v) => [row(`C ${v.id}, cold`, v.cold), row(`C ${v.id}, warm`, v.warm)]),
        row('TS reference, cold', p.tsCold),
        row('TS reference, warm', p.tsWarm),
        row('(baseline /bin/true)', p.baseline.bintrue),
        ...p.baseline.startup.map((s) => row(`(C ${s.id}: start, no request)`, s)),
        row('(baseline node -e)', p.baseline.node),
      ],
    ),
  )
  console.log('')
  for (const v of p.c) {
    console.log(
      `   ${v.id} = ${v.path}${v.note ? ` (${v.note})` : ''}: TS/C (median) cold ${f1(p.tsCold.medianMs / v.cold.medianMs)}x, ` +
        `warm ${f1(p.tsWarm.medianMs / v.warm.medianMs)}x; peak RSS TS/C ${f1(Math.max(p.tsCold.peakRssKiB, p.tsWarm.peakRssKiB) / Math.max(v.cold.peakRssKiB, v.warm.peakRssKiB))}x`,
    )
  }
}

// ---- 4. summary ----------------------------------------------------------------------------------

function summary(proof, instr, size, plugin) {
  const rows = []
  const mark = (ok) => (ok === null ? 'n/a' : ok ? 'met' : 'NOT MET')
  for (const v of plugin ? plugin.c : []) {
    rows.push([`${v.id}: plugin warm run, median (loopback)`, `< ${TARGET.warmMs} ms`, `${f2(v.warm.medianMs)} ms`, mark(v.warm.medianMs < TARGET.warmMs)])
    const rw = plugin.tsWarm.medianMs / v.warm.medianMs
    const rc = plugin.tsCold.medianMs / v.cold.medianMs
    rows.push([`${v.id}: faster than the TS reference, warm`, `>= ${TARGET.tsRatio}x`, `${f1(rw)}x`, mark(rw >= TARGET.tsRatio)])
    rows.push([`${v.id}: faster than the TS reference, cold`, `>= ${TARGET.tsRatio}x`, `${f1(rc)}x`, mark(rc >= TARGET.tsRatio)])
    const peak = Math.max(v.cold.peakRssKiB, v.warm.peakRssKiB)
    rows.push([`${v.id}: plugin peak RSS`, `< ${TARGET.rssMiB} MiB`, `${(peak / 1024).toFixed(1)} MiB`, mark(peak < TARGET.rssMiB * 1024)])
  }
  if (!plugin) {
    rows.push(['plugin runs', '-', 'skipped', 'n/a'])
  }
  for (const r of proof) {
    const x = r.c.median_us / r.ecdsa.median_us
    rows.push([`proof verification / bare ECDSA, ${r.key}, time`, `<= ${TARGET.proofOverEcdsa}x`, `${f2(x)}x`, mark(x <= TARGET.proofOverEcdsa)])
    const ins = (instr ?? []).find((i) => i.curve === r.curve)
    if (ins) {
      const y = ins.proof / ins.ecdsa
      rows.push([`proof verification / bare ECDSA, ${r.key}, instructions`, `<= ${TARGET.proofOverEcdsa}x`, `${f2(y)}x`, mark(y <= TARGET.proofOverEcdsa)])
    }
  }
  for (const by of ['time', 'instr']) {
    const v = depthVerdict(size, by)
    if (by === 'instr' && v === null) continue
    rows.push([
      `cost grows with proof depth, not repo size (${by === 'time' ? 'time' : 'instructions'})`,
      `<= ${TARGET.depthSlack} x depth ratio`,
      v ? `${f2(v.costRatio)}x cost for ${f2(v.depthRatio)}x depth` : 'no bench/proofs',
      mark(v ? v.met : null),
    ])
  }
  console.log('\n== 4. Summary against the targets (DESIGN.md "Performance budget")\n')
  console.log(table(['target', 'goal', 'measured', 'status'], rows))
  return rows
}

// The newest mtime (ms) of the C sources that go into the plugin.
function newestSource() {
  let t = 0
  for (const m of ['common', 'atproto', 'referrer', 'policy', 'verify', 'plugin']) {
    for (const f of readdirSync(join(ROOT, m))) {
      if (/\.[ch]$/.test(f)) t = Math.max(t, statSync(join(ROOT, m, f)).mtimeMs)
    }
  }
  return t
}

// ---- main ----------------------------------------------------------------------------------------

function main() {
  const a = parseArgs(process.argv.slice(2))
  const bin = {
    proof: join(a.build, 'bench/bench_proof'),
    rusage: join(a.build, 'bench/rusage'),
    plugins: [{ id: 'dynamic', path: join(a.build, 'atproto'), note: 'this build, shared libraries' }],
  }
  for (const b of [bin.proof, bin.rusage, bin.plugins[0].path]) if (!existsSync(b)) die(`${b} missing (make bench builds it)`)
  if (a.static !== null && existsSync(a.static)) {
    const path = resolve(a.static)
    const stale = newestSource() > statSync(path).mtimeMs
    bin.plugins.push({ id: 'static', path, note: 'static-pie, as Ratify runs it' + (stale ? '; OLDER THAN THE SOURCES: run make static' : '') })
  }
  if (!existsSync(join(ROOT, 'testdata/tsgen/node_modules/@atproto/repo'))) die('testdata/tsgen/node_modules missing (cd testdata/tsgen && npm ci)')
  const versions = Object.fromEntries(
    ['repo', 'crypto'].map((p) => [
      `@atproto/${p}`,
      JSON.parse(readFileSync(join(ROOT, `testdata/tsgen/node_modules/@atproto/${p}/package.json`), 'utf8')).version,
    ]),
  )
  const started = new Date()
  const load0 = uptime()
  console.log(`atv bench: ${started.toISOString()}, ${cpus().length} CPUs (${cpus()[0]?.model ?? '?'}), load ${load0}`)
  console.log(`  node ${process.version}, ${Object.entries(versions).map(([k, v]) => `${k} ${v}`).join(', ')}; build ${a.build}`)
  console.log(`  C: ${a.iters} timed iterations per proof measurement, TS: ${a.tsIters} (after warm-up); plugin runs: C ${a.runs}, TS ${a.tsRuns}`)

  const proof = proofBench(a, bin)
  printProof(proof)
  const instr = instrBench(bin)
  printInstr(instr)
  const size = sizeBench(a, bin)
  printSize(size)
  let plugin = null
  if (!a.skipPlugin) {
    plugin = pluginBench(a, bin)
    printPlugin(plugin)
  }
  const rows = summary(proof, instr, size, plugin)
  const load1 = uptime()
  const secs = (Date.now() - started.getTime()) / 1000
  console.log(`\n  load average (1, 5, 15 min): ${load0} at start, ${load1} at end; ${secs.toFixed(0)} s in all.` +
    (loadavg()[0] > cpus().length ? ' The machine was busy: treat the numbers as noisy.' : ''))
  const json = a.json ?? join(a.build, 'bench/results.json')
  mkdirSync(dirname(json), { recursive: true })
  writeFileSync(json, JSON.stringify({ started, load: [load0, load1], versions, args: a, proof, instr, size, plugin, summary: rows }, null, 2) + '\n')
  console.log(`  results: ${json}`)
}

main()
