// lib.mjs -- small helpers shared by the benchmark scripts (bench/run.mjs, bench/serve.mjs):
// failing loudly, running a command, quantiles and the printed tables.

import { spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'

export function die(msg) {
  process.stderr.write(`bench: ${msg}\n`)
  process.exit(1)
}

// cmd args -> its stdout; any failure ends the benchmark with cmd's output.
export function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 << 20, ...opts })
  if (r.error) die(`${cmd}: ${r.error.message}`)
  if (r.status !== 0) die(`${cmd} ${args.join(' ')} exited ${r.status}:\n${r.stderr}${r.stdout}`)
  return r.stdout
}

export function sortedQuantile(xs, q) {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.round(q * (s.length - 1)))]
}

export const uptime = () => readFileSync('/proc/loadavg', 'utf8').trim().split(' ').slice(0, 3).join(' ')
export const f1 = (x) => (x === null || x === undefined || Number.isNaN(x) ? '-' : x.toFixed(1))
export const f2 = (x) => (x === null || x === undefined || Number.isNaN(x) ? '-' : x.toFixed(2))

export function table(head, rows) {
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)))
  const line = (r) => '  ' + r.map((c, i) => (i === 0 ? String(c).padEnd(w[i]) : String(c).padStart(w[i]))).join('  ')
  return [line(head), '  ' + w.map((n) => '-'.repeat(n)).join('  '), ...rows.map(line)].join('\n')
}
