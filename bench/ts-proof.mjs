#!/usr/bin/env node
// ts-proof.mjs -- the TypeScript side of the proof benchmark: the official verifyProofs() from
// @atproto/repo (with @atproto/crypto's verifier, which it calls) over the same CAR bytes and
// the key of the same DID document as bench_proof.
//
//   node bench/ts-proof.mjs [-n ITERS] [-w WARMUP] LABEL CAR DIDDOC COLLECTION RKEY RECORDCID
//
// Prints one line in the format of bench_proof:
//   tsproof label=L iters=N median_us=M p10_us= p90_us= min_us=
// Each call is awaited and timed on its own (process.hrtime), after WARMUP untimed calls so
// that V8 has compiled the hot paths (this is the TypeScript library at its best, as a
// long-running service would see it). Exit 1 when the proof is not "verified".

import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { createRequire } from 'node:module'
import { fileURLToPath, pathToFileURL } from 'node:url'

const tsgen = fileURLToPath(new URL('../testdata/tsgen/', import.meta.url))
const req = createRequire(join(tsgen, 'package.json'))
const load = (name) => import(pathToFileURL(req.resolve(name)).href)
const { verifyProofs } = await load('@atproto/repo')
const { getSigningDidKey } = await load('@atproto/common-web')
const { parseCid } = await load('@atproto/lex-data')

const MAX_ITERS = 1000000

function count(s, what) {
  const n = Number(s)
  if (!Number.isInteger(n) || n < 1 || n > MAX_ITERS) throw new Error(`${what}: want 1..${MAX_ITERS}, got ${s}`)
  return n
}

function quantile(sorted, q) {
  const i = Math.round(q * (sorted.length - 1))
  return sorted[Math.min(i, sorted.length - 1)]
}

async function main() {
  const args = process.argv.slice(2)
  let iters = 300
  let warmup = 100
  while (args.length && args[0].startsWith('-')) {
    const k = args.shift()
    if (k === '-n') iters = count(args.shift(), '-n')
    else if (k === '-w') warmup = count(args.shift(), '-w')
    else throw new Error(`unknown option ${k}`)
  }
  if (args.length !== 6) {
    process.stderr.write('usage: ts-proof.mjs [-n ITERS] [-w WARMUP] LABEL CAR DIDDOC COLLECTION RKEY RECORDCID\n')
    process.exit(2)
  }
  const [label, carPath, docPath, collection, rkey, recordCid] = args
  const car = new Uint8Array(readFileSync(carPath))
  const doc = JSON.parse(readFileSync(docPath, 'utf8'))
  const did = doc.id
  const didKey = getSigningDidKey(doc)
  if (!didKey) throw new Error(`${docPath}: no #atproto key`)
  const claims = [{ collection, rkey, cid: parseCid(recordCid) }]
  const once = async () => {
    const res = await verifyProofs(car, claims, did, didKey)
    if (res.verified.length !== 1 || res.unverified.length !== 0) throw new Error(`${label}: proof not verified`)
  }
  for (let i = 0; i < warmup; i++) await once()
  const t = new Float64Array(iters)
  for (let i = 0; i < iters; i++) {
    const t0 = process.hrtime.bigint()
    await once()
    t[i] = Number(process.hrtime.bigint() - t0) / 1e3
  }
  t.sort()
  const f = (x) => x.toFixed(2)
  process.stdout.write(
    `tsproof label=${label} iters=${iters} median_us=${f(quantile(t, 0.5))} p10_us=${f(quantile(t, 0.1))} ` +
      `p90_us=${f(quantile(t, 0.9))} min_us=${f(t[0])}\n`,
  )
}

main().catch((err) => {
  process.stderr.write(`ts-proof.mjs: ${err?.stack ?? err}\n`)
  process.exit(1)
})
