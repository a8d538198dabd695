#!/usr/bin/env node
// gen-bigrepo.mjs -- getRecord proofs from repositories of 100, 10 000 and 1 000 000 records,
// made with the official @atproto TypeScript libraries (versions pinned in
// testdata/tsgen/package-lock.json; run `cd testdata/tsgen && npm ci` first).
//
//   node bench/gen-bigrepo.mjs OUTDIR [SIZE...]        (default sizes: 100 10000 1000000)
//
// For each SIZE it builds, in memory, one repository of SIZE io.atcr.manifest records with
// Repo.formatInitCommit (the same call a PDS makes for an account's first commit), exports the
// getRecord proof of one target record with getRecords() (the body of
// com.atproto.sync.getRecord), checks it with the official verifyProofs(), and writes:
//
//   OUTDIR/rSIZE/record-proof.car   commit + MST path nodes + the record (a few KiB)
//   OUTDIR/rSIZE/did-doc.json       did:plc document, Multikey #atproto key (K-256)
//   OUTDIR/rSIZE/did-log.json       the DID's audit log (GET /DID/log/audit): its genesis, signed
//                                   with @did-plc/lib by a TEST-ONLY rotation key; the DID is its hash
//   OUTDIR/rSIZE/meta.json          did, collection, rkey, record CID, digest, path shape
//
// Why these files are committed (bench/proofs/) rather than cached: the proofs are tiny
// (< 100 KiB for all sizes together) and the 1M-record repository takes minutes and a few GiB
// of memory to build, so `make bench` should never have to build it. The generator is
// deterministic (fixed TEST-ONLY key, fixed rev, fixed record contents, RFC 6979 signatures),
// so `make bench-gen` rebuilds byte-identical files; bench-gen-check compares them.
//
// Cost: the 1M-record repository took 17 min wall (7 min CPU, a busy 2-core machine) and ~6 GiB
// of resident memory; run it with --max-old-space-size=8192 (bench.mk does).
//
// !!! The private key is TEST ONLY: sha256 of a public label, printed in meta.json.

import { createHash } from 'node:crypto'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { createRequire } from 'node:module'
import { fileURLToPath, pathToFileURL } from 'node:url'

// The official libraries, from testdata/tsgen/node_modules (one pinned copy for the project).
const tsgen = fileURLToPath(new URL('../testdata/tsgen/', import.meta.url))
const req = createRequire(join(tsgen, 'package.json'))
const load = (name) => import(pathToFileURL(req.resolve(name)).href)
const { MemoryBlockstore, Repo, WriteOpAction, concatBytesAsync, getRecords, readCarWithRoot, verifyProofs } =
  await load('@atproto/repo')
const { Secp256k1Keypair } = await load('@atproto/crypto')
const cbor = await load('@atproto/lex-cbor')
const { TID, getSigningDidKey } = await load('@atproto/common-web')

const plcLib = await load('@did-plc/lib')
// @did-plc/lib signs with its own @atproto/crypto (0.1.0)
const { Secp256k1Keypair: PlcK256Keypair } = createRequire(req.resolve('@did-plc/lib'))('@atproto/crypto')
const MANIFEST = 'io.atcr.manifest'
const CREATED_AT = '2025-01-01T00:00:00.000Z'
const REV = TID.fromTime(Date.UTC(2025, 0, 2) * 1000, 0).toString()
const KEY_LABEL = 'atv bench big repository k256 signing key (TEST ONLY)'
const ROTATION_LABEL = 'atv bench big repository k256 rotation key (TEST ONLY)'
const GENESIS_AT = '2025-01-01T00:00:00.000Z'
const DEFAULT_SIZES = [100, 10000, 1000000]
const MAX_SIZE = 1000000 // memory: ~6 KiB per record while building; 1M fits an 8 GiB heap

const sha256Hex = (s) => createHash('sha256').update(s).digest('hex')

function assert(cond, msg) {
  if (!cond) throw new Error('assertion failed: ' + msg)
}

// Record i of every repository: an io.atcr.manifest record keyed by its digest's hex, as ATCR
// writes them. The same i gives the same record in every size, so the target is comparable.
function record(i) {
  const hex = sha256Hex(`atv bench manifest ${i}`)
  return {
    rkey: hex,
    value: {
      $type: MANIFEST,
      repository: 'bench.example.com/app',
      digest: `sha256:${hex}`,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      schemaVersion: 2,
      createdAt: CREATED_AT,
    },
  }
}

// A real did:plc: the hash of a genesis operation naming the signing key.
async function makeDid(keypair) {
  const rotation = await PlcK256Keypair.import(sha256Hex(ROTATION_LABEL), { exportable: true })
  const { op, did } = await plcLib.createOp({
    signingKey: keypair.did(),
    handle: 'bench.atv.test',
    pds: 'https://pds.atv.test',
    rotationKeys: [rotation.did()],
    signer: rotation,
  })
  const data = await plcLib.validateOperationLog(did, [op])
  assert(data.verificationMethods.atproto === keypair.did(), 'the library reads the genesis key')
  const { cid } = await plcLib.getLastOpWithCid([op])
  return { did, log: [{ did, operation: op, cid: cid.toString(), nullified: false, createdAt: GENESIS_AT }] }
}

async function genSize(outDir, n, keypair, DID, didLog) {
  const t0 = Date.now()
  const writes = []
  for (let i = 0; i < n; i++) {
    const r = record(i)
    writes.push({ action: WriteOpAction.Create, collection: MANIFEST, rkey: r.rkey, record: r.value })
  }
  // The target: record 0, present in every size (its depth then only depends on the tree).
  const target = record(0)
  const storage = new MemoryBlockstore()
  const commitData = await Repo.formatInitCommit(storage, DID, keypair, writes, REV)
  writes.length = 0
  const repo = await Repo.createFromCommit(storage, commitData)
  assert(repo.commit.rev === REV, 'rev')
  const tBuilt = Date.now()

  const car = await concatBytesAsync(getRecords(storage, repo.cid, [{ collection: MANIFEST, rkey: target.rkey }]))
  const parsed = await readCarWithRoot(car)
  const recordCid = await cbor.cidForLex(target.value)
  const didKey = keypair.did()
  const res = await verifyProofs(car, [{ collection: MANIFEST, rkey: target.rkey, cid: recordCid }], DID, didKey)
  assert(res.verified.length === 1 && res.unverified.length === 0, 'official verifyProofs accepts the proof')
  const mstNodes = parsed.blocks.size - 2 // minus the commit and the record
  assert(mstNodes >= 1, 'at least the root node')

  const didDoc = {
    '@context': ['https://www.w3.org/ns/did/v1', 'https://w3id.org/security/multikey/v1'],
    id: DID,
    alsoKnownAs: ['at://bench.atv.test'],
    verificationMethod: [
      { id: `${DID}#atproto`, type: 'Multikey', controller: DID, publicKeyMultibase: didKey.slice('did:key:'.length) },
    ],
    service: [{ id: '#atproto_pds', type: 'AtprotoPersonalDataServer', serviceEndpoint: 'https://pds.atv.test' }],
  }
  assert(getSigningDidKey(didDoc) === didKey, 'did doc key')

  const dir = join(outDir, `r${n}`)
  mkdirSync(dir, { recursive: true })
  writeFileSync(join(dir, 'record-proof.car'), car)
  writeFileSync(join(dir, 'did-doc.json'), JSON.stringify(didDoc, null, 2) + '\n')
  writeFileSync(join(dir, 'did-log.json'), JSON.stringify(didLog, null, 2) + '\n')
  const meta = {
    comment: 'Generated by bench/gen-bigrepo.mjs with the official @atproto TypeScript libraries. Key is TEST ONLY.',
    records: n,
    did: DID,
    didKey,
    privateKeyHex_TEST_ONLY: sha256Hex(KEY_LABEL),
    collection: MANIFEST,
    rkey: target.rkey,
    recordCid: recordCid.toString(),
    digest: target.value.digest,
    commitCid: repo.cid.toString(),
    rev: REV,
    mstRoot: repo.commit.data.toString(),
    carBytes: car.length,
    mstNodes,
  }
  writeFileSync(join(dir, 'meta.json'), JSON.stringify(meta, null, 2) + '\n')
  process.stderr.write(
    `gen-bigrepo: ${n} records: built in ${((tBuilt - t0) / 1000).toFixed(1)} s, proof ${car.length} bytes, ` +
      `${mstNodes} MST nodes, official verifyProofs: verified\n`,
  )
}

async function main() {
  const [outDir, ...rest] = process.argv.slice(2)
  if (!outDir) {
    process.stderr.write('usage: node gen-bigrepo.mjs OUTDIR [SIZE...]\n')
    process.exit(2)
  }
  const sizes = rest.length ? rest.map(Number) : DEFAULT_SIZES
  for (const n of sizes) {
    if (!Number.isInteger(n) || n < 1 || n > MAX_SIZE) throw new Error(`size: want 1..${MAX_SIZE}, got ${n}`)
  }
  const keypair = await Secp256k1Keypair.import(sha256Hex(KEY_LABEL), { exportable: true })
  const { did, log } = await makeDid(keypair)
  for (const n of sizes) await genSize(outDir, n, keypair, did, log)
}

main().catch((err) => {
  process.stderr.write(`gen-bigrepo.mjs: ${err?.stack ?? err}\n`)
  process.exit(1)
})
