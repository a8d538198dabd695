#!/usr/bin/env node
// gen-proof.mjs -- deterministic ATProto proof fixtures, made with the official
// @atproto TypeScript libraries (versions pinned in package.json / package-lock.json).
//
// Usage:  node gen-proof.mjs OUTDIR
//
// What it generates, and why:
//   The C verifier in this project checks "record <collection>/<rkey> exists (or does not exist)
//   in the repository of DID X, in a commit signed by X's current #atproto key".  To test it against
//   the reference implementation rather than against itself, this script builds a small repository
//   with @atproto/repo, exports proofs exactly the way a PDS does (getRecords = the body of
//   com.atproto.sync.getRecord, getFullRepo = com.atproto.sync.getRepo), derives a set of broken
//   proofs from them, and runs the official verifyProofs() over every case.  Every expectation we
//   write into fixture.json is asserted to agree with what verifyProofs() returned; the script fails
//   if they ever disagree.
//
//   OUTDIR/k256/ and OUTDIR/p256/ contain the same repository content, signed with a secp256k1 key
//   and a P-256 key respectively.  Per curve:
//     record-proof.car                    getRecords proof for the target (present) record
//     absent-proof.car                    getRecords proof for an io.atcr.manifest key that does not exist
//     full-repo.car                       getFullRepo CAR (proves both of the above)
//     bad-wrong-key.car                   same unsigned commit, signed by the other (unlisted) key
//     bad-high-s.car                      commit sig replaced by (r, n-s); verifies only if low-S is not enforced
//     bad-did-mismatch.car                commit for a different valid did:plc, correctly signed
//     bad-record-tampered.car             record block bytes altered, CID left unchanged
//     bad-record-missing.car              record block removed
//     bad-mst-node-missing.car            deepest (non-root) MST node on the target path removed
//     bad-absent-mst-node-missing.car     deepest (non-root) MST node on the absent key's path removed
//     bad-commit-v2.car                   commit with version 2 (otherwise valid, correctly signed)
//     did-doc.json                        did:plc document with a Multikey #atproto key
//     did-doc-legacy.json                 same, legacy Ecdsa*VerificationKey2019 key type (uncompressed point)
//     did-log.json                        the DID's audit log (did:plc), whose last state names this curve's key
//     fixture.json                        keys, commit/record details and the list of test cases
//
// Agreement with the official library: for every case, expectValid === (verifyProofs() result is
// "verified"); the script throws otherwise.  At the pinned versions there is no disagreement, so no
// case needed an override.  (verifyProofs throws for every invalid case here; it never returns
// "unverified" for them, because each is a structural/signature failure, not a wrong-CID claim.)
//
// Determinism: the private keys are sha256 of fixed labels, the commit rev is a fixed TID (passed
// to Repo.formatInitCommit as revOverride), record contents are fixed, and ECDSA signing in
// @atproto/crypto (noble-curves) is RFC 6979 deterministic.  Re-running gives byte-identical files;
// testdata/tsgen/regen-check.sh checks that.
//
// !!! The private keys below are TEST ONLY.  They are derived from public labels and published in
// !!! fixture.json; never use them (or this DID) for anything real.

import { mkdirSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join } from 'node:path'

import * as plcLib from '@did-plc/lib'

import {
  BlockMap,
  MST,
  MemoryBlockstore,
  Repo,
  WriteOpAction,
  blocksToCarFile,
  concatBytesAsync,
  getFullRepo,
  getRecords,
  readCarWithRoot,
  signCommit,
  verifyProofs,
} from '@atproto/repo'
import {
  P256Keypair,
  Secp256k1Keypair,
  bytesToMultibase,
  formatDidKey,
  multibaseToBytes,
  parseDidKey,
  sha256,
  verifySignature,
} from '@atproto/crypto'
import * as cbor from '@atproto/lex-cbor'
import { decodeCid } from '@atproto/lex-data'
import { TID, getPdsEndpoint, getSigningDidKey, getSigningKey } from '@atproto/common-web'
import {
  ensureValidDid,
  ensureValidNsid,
  ensureValidRecordKey,
  ensureValidTid,
} from '@atproto/syntax'

// ---------------------------------------------------------------------------------------------
// Fixed inputs
// ---------------------------------------------------------------------------------------------

// Both are real did:plc identities, set in main() from genesis operations that @did-plc/lib signs
// with TEST-ONLY rotation keys: DID names the k256 signing key at its genesis, then rotates to the
// p256 one (so each curve's DID document is a state of one verified log, did-log.json);
// OTHER_DID (bad-did-mismatch / present-wrong-did) is a second account.
let DID = ''
let OTHER_DID = ''
const GENESIS_AT = '2025-01-01T00:00:00.000Z'
const ROTATED_AT = '2025-01-01T06:00:00.000Z'
// @did-plc/lib signs with its own @atproto/crypto (0.1.0): RFC 6979, low-S
const { Secp256k1Keypair: PlcK256Keypair } = createRequire(import.meta.resolve('@did-plc/lib'))('@atproto/crypto')
const HANDLE = 'fixture.example.com'
const PDS = 'https://pds.example.com'
const MANIFEST = 'io.atcr.manifest'
const POST = 'app.bsky.feed.post'
const N_MANIFESTS = 40
const N_POSTS = 3
const CREATED_AT = '2025-01-01T00:00:00.000Z'
const T0_US = Date.UTC(2025, 0, 1) * 1000 // TIDs are microseconds since the epoch
// commit rev: 2025-01-01T12:00:00Z, clock id 0
const REV = TID.fromTime(T0_US + 12 * 3600 * 1e6, 0).toString()

const CURVES = {
  k256: {
    Keypair: Secp256k1Keypair,
    jwtAlg: 'ES256K',
    n: 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n,
    legacyType: 'EcdsaSecp256k1VerificationKey2019',
  },
  p256: {
    Keypair: P256Keypair,
    jwtAlg: 'ES256',
    n: 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n,
    legacyType: 'EcdsaSecp256r1VerificationKey2019',
  },
}

// ---------------------------------------------------------------------------------------------
// Small helpers
// ---------------------------------------------------------------------------------------------

const hex = (b) => Buffer.from(b).toString('hex')
const unhex = (s) => new Uint8Array(Buffer.from(s, 'hex'))
const sha256Hex = async (label) => hex(await sha256(label))
const bigFromBytes = (b) => BigInt('0x' + (hex(b) || '0'))
const bytesFromBig = (x, len) => unhex(x.toString(16).padStart(len * 2, '0'))

function assert(cond, msg) {
  if (!cond) throw new Error('assertion failed: ' + msg)
}

const collect = (asyncIter) => concatBytesAsync(asyncIter)

// MST layer of a key: leading zero bits of sha256(key), divided by 2 (rounded down).
async function keyLayer(key) {
  const h = await sha256(key)
  let zeros = 0
  for (const byte of h) {
    if (byte === 0) {
      zeros += 8
      continue
    }
    zeros += Math.clz32(byte) - 24
    break
  }
  return Math.floor(zeros / 2)
}

// Decodes an MST node block and rebuilds its full keys (used only for reporting the path shape).
function decodeMstNode(bytes) {
  const node = cbor.decode(bytes)
  const keys = []
  let prev = ''
  for (const e of node.e) {
    const k = prev.slice(0, e.p) + Buffer.from(e.k).toString('utf8')
    keys.push(k)
    prev = k
  }
  return { keys, hasLeft: node.l !== null }
}

// Describes the MST nodes on a path (cidsForPath output without the trailing record CID).
async function describePath(blocks, nodeCids) {
  const out = []
  let parentLayer = null
  for (const cid of nodeCids) {
    const { keys } = decodeMstNode(blocks.get(cid))
    const layer = keys.length > 0 ? await keyLayer(keys[0]) : parentLayer - 1
    out.push({ cid: cid.toString(), layer, entries: keys.length })
    parentLayer = layer
  }
  return out
}

// Builds a CAR: root block first, then the other blocks of `base` in their original order,
// minus `drop`, with `replace` (cid string -> bytes) applied.  Performs no CID checks, on purpose.
async function buildCar(rootCid, rootBytes, base, { dropRoot = null, drop = [], replace = {} } = {}) {
  const out = new BlockMap()
  out.set(rootCid, rootBytes)
  const dropSet = new Set(drop.map(String))
  if (dropRoot) dropSet.add(dropRoot.toString())
  for (const { cid, bytes } of base.entries()) {
    const k = cid.toString()
    if (k === rootCid.toString() || dropSet.has(k)) continue
    out.set(cid, replace[k] ?? bytes)
  }
  return blocksToCarFile(rootCid, out)
}

// A commit block (object + bytes + CID) from an unsigned commit and a keypair.
async function makeCommit(unsigned, keypair) {
  const signed = await signCommit(unsigned, keypair)
  const bytes = cbor.encode(signed)
  const cid = await cbor.cidForLex(signed)
  return { obj: signed, bytes, cid }
}

async function writeJson(path, value) {
  writeFileSync(path, JSON.stringify(value, null, 2) + '\n')
}

// ---------------------------------------------------------------------------------------------
// Repository content (identical for both curves)
// ---------------------------------------------------------------------------------------------

async function buildWrites() {
  const writes = []
  for (let i = 0; i < N_MANIFESTS; i++) {
    const digestHex = await sha256Hex(`atcr proof fixture manifest ${i}`)
    const rkey = digestHex // 64 lower-case hex chars: a valid record key
    ensureValidRecordKey(rkey)
    writes.push({
      action: WriteOpAction.Create,
      collection: MANIFEST,
      rkey,
      record: {
        $type: MANIFEST,
        repository: 'example.com/app',
        digest: `sha256:${digestHex}`,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        schemaVersion: 2,
        createdAt: CREATED_AT,
      },
    })
  }
  for (let i = 0; i < N_POSTS; i++) {
    const rkey = TID.fromTime(T0_US + (i + 1) * 1e6, 0).toString()
    ensureValidTid(rkey)
    ensureValidRecordKey(rkey)
    writes.push({
      action: WriteOpAction.Create,
      collection: POST,
      rkey,
      record: {
        $type: POST,
        text: `fixture post ${i + 1}`,
        createdAt: new Date(T0_US / 1000 + (i + 1) * 1000).toISOString(),
      },
    })
  }
  return writes
}

// ---------------------------------------------------------------------------------------------
// Official verification of one case
// ---------------------------------------------------------------------------------------------

async function officialResult(car, { collection, rkey, did, didKey, claimCid }) {
  try {
    const claim = { collection, rkey, cid: claimCid === null ? null : decodeCidStr(claimCid) }
    const res = await verifyProofs(car, [claim], did, didKey)
    if (res.verified.length === 1 && res.unverified.length === 0) return 'verified'
    if (res.unverified.length === 1 && res.verified.length === 0) return 'unverified'
    throw new Error('unexpected verifyProofs result shape')
  } catch (err) {
    // one line, so fixture.json stays readable (zod errors are multi-line JSON)
    return 'error: ' + String(err?.message ?? err).replace(/\s+/g, ' ').trim()
  }
}

const cidByStr = new Map()
const decodeCidStr = (s) => {
  const c = cidByStr.get(s)
  assert(c, `unknown cid ${s}`)
  return c
}
const remember = (cid) => {
  cidByStr.set(cid.toString(), cid)
  return cid.toString()
}

// ---------------------------------------------------------------------------------------------
// Per-curve generation
// ---------------------------------------------------------------------------------------------

async function plcEntry(did, op, createdAt) {
  const { cid } = await plcLib.getLastOpWithCid([op])
  return { did, operation: op, cid: cid.toString(), nullified: false, createdAt }
}

// The DIDs, from genesis operations; logs[curve] is the audit log whose last state names that
// curve's signing key. The library's validateOperationLog agrees with each.
async function makeDids(keys) {
  const rot = async (label) =>
    PlcK256Keypair.import(await sha256Hex(`atcr proof fixture ${label} rotation key (TEST ONLY)`))
  const r1 = await rot('repo')
  const g = await plcLib.createOp({
    signingKey: keys.k256.keypair.did(),
    handle: HANDLE,
    pds: PDS,
    rotationKeys: [r1.did()],
    signer: r1,
  })
  const rotated = await plcLib.updateAtprotoKeyOp(g.op, r1, keys.p256.keypair.did())
  const k256Log = [await plcEntry(g.did, g.op, GENESIS_AT)]
  const p256Log = [...k256Log, await plcEntry(g.did, rotated, ROTATED_AT)]
  for (const [name, log] of [['k256', k256Log], ['p256', p256Log]]) {
    const data = await plcLib.validateOperationLog(g.did, log.map((e) => e.operation))
    assert(data.verificationMethods.atproto === keys[name].keypair.did(), `${name} log names its key`)
    assert(data.services.atproto_pds.endpoint === PDS, `${name} log names the PDS`)
  }
  const r2 = await rot('other')
  const o = await plcLib.createOp({
    signingKey: keys.k256.otherKeypair.did(),
    handle: 'other.example.com',
    pds: PDS,
    rotationKeys: [r2.did()],
    signer: r2,
  })
  DID = g.did
  OTHER_DID = o.did
  return { k256: k256Log, p256: p256Log }
}

async function genCurve(outDir, curveName, keys, writes, log) {
  const curve = CURVES[curveName]
  const { keypair, otherKeypair, privHex, otherPrivHex } = keys[curveName]
  const didKey = keypair.did()
  const otherDidKey = otherKeypair.did()
  // a key of the other curve, to check that the verifier does not mix curves up
  const crossCurveDidKey = keys[curveName === 'k256' ? 'p256' : 'k256'].keypair.did()

  const dir = join(outDir, curveName)
  mkdirSync(dir, { recursive: true })

  // --- repository -------------------------------------------------------------------------
  const storage = new MemoryBlockstore()
  const commitData = await Repo.formatInitCommit(storage, DID, keypair, writes, REV)
  const repo = await Repo.createFromCommit(storage, commitData)
  assert(repo.commit.rev === REV, 'rev override applied')
  assert(repo.commit.did === DID, 'commit did')
  const mst = MST.load(storage, repo.commit.data)

  // collect all blocks of the repo so we can look up MST nodes by CID
  const fullRepoCar = await collect(getFullRepo(storage, repo.cid))
  const full = await readCarWithRoot(fullRepoCar) // also re-checks every block's CID
  assert(full.root.equals(repo.cid), 'full repo root')

  // --- target: the manifest key with the longest proof path (ties: smallest key) -----------
  const manifestWrites = writes.filter((w) => w.collection === MANIFEST)
  let target = null
  for (const w of [...manifestWrites].sort((a, b) => (a.rkey < b.rkey ? -1 : 1))) {
    const path = await mst.cidsForPath(`${MANIFEST}/${w.rkey}`)
    if (!target || path.length > target.path.length) target = { w, path }
  }
  const targetNodes = target.path.slice(0, -1)
  const recordCid = target.path[target.path.length - 1]
  assert(targetNodes.length >= 3, `target proof path crosses >= 3 MST nodes (got ${targetNodes.length})`)
  assert(recordCid.equals(await cbor.cidForLex(target.w.record)), 'record cid')
  const recordBytes = full.blocks.get(recordCid)
  assert(recordBytes, 'record block present in full repo')

  // --- absent key: among 64 candidate digests not in the repo, the longest path ------------
  const present = new Set(writes.map((w) => `${w.collection}/${w.rkey}`))
  let absent = null
  for (let j = 0; j < 64; j++) {
    const rkey = await sha256Hex(`atcr proof fixture absent manifest ${j}`)
    const key = `${MANIFEST}/${rkey}`
    if (present.has(key)) continue
    const path = await mst.cidsForPath(key)
    assert((await mst.get(key)) === null, 'absent key really absent')
    if (!absent || path.length > absent.path.length) absent = { rkey, path }
  }
  assert(absent.path.length >= 2, 'absent path has a non-root node')

  // --- proofs exactly as a PDS would serve them --------------------------------------------
  const recordProofCar = await collect(
    getRecords(storage, repo.cid, [{ collection: MANIFEST, rkey: target.w.rkey }]),
  )
  const absentProofCar = await collect(
    getRecords(storage, repo.cid, [{ collection: MANIFEST, rkey: absent.rkey }]),
  )
  const rp = await readCarWithRoot(recordProofCar)
  const ap = await readCarWithRoot(absentProofCar)
  assert(rp.blocks.size === 1 + targetNodes.length + 1, 'record proof = commit + path nodes + record')
  assert(ap.blocks.size === 1 + absent.path.length, 'absent proof = commit + path nodes')

  // --- the commit -------------------------------------------------------------------------
  const commitBytes = rp.blocks.get(repo.cid)
  const commit = cbor.decode(commitBytes)
  const { sig, ...unsigned } = commit
  const unsignedBytes = cbor.encode(unsigned)
  assert(sig.length === 64, 'sig is 64 bytes')
  assert(await verifySignature(didKey, unsignedBytes, sig), 'commit signature verifies')
  // the "strip" method (drop the sig entry, map header a6 -> a5) gives the same bytes
  {
    const sigEntry = Buffer.concat([Buffer.from([0x63]), Buffer.from('sig'), Buffer.from([0x58, 0x40]), sig])
    const b = Buffer.from(commitBytes)
    const at = b.indexOf(sigEntry)
    assert(b[0] === 0xa6 && at > 0, 'commit layout')
    const stripped = Buffer.concat([Buffer.from([0xa5]), b.subarray(1, at), b.subarray(at + sigEntry.length)])
    assert(stripped.equals(Buffer.from(unsignedBytes)), 'strip method == re-encode method')
  }

  // --- negative CARs ----------------------------------------------------------------------
  const bad = {}

  // same unsigned commit, signed by another key
  {
    const c = await makeCommit(unsigned, otherKeypair)
    bad['bad-wrong-key.car'] = await buildCar(c.cid, c.bytes, rp.blocks, { dropRoot: repo.cid })
  }

  // high-S: (r, n - s)
  {
    const r = sig.slice(0, 32)
    const s = bigFromBytes(sig.slice(32))
    assert(s > 0n && s <= curve.n / 2n, 'original signature is low-S')
    const highS = curve.n - s
    assert(highS > curve.n / 2n, 'new s is high')
    const sig2 = new Uint8Array([...r, ...bytesFromBig(highS, 32)])
    assert(!(await verifySignature(didKey, unsignedBytes, sig2)), 'high-S rejected by atproto rules')
    // allowMalleableSig == noble verify({lowS:false}): the signature is otherwise mathematically valid
    assert(
      await verifySignature(didKey, unsignedBytes, sig2, { allowMalleableSig: true }),
      'high-S signature verifies when low-S is not enforced',
    )
    const obj = { ...unsigned, sig: sig2 }
    const bytes = cbor.encode(obj)
    const cid = await cbor.cidForLex(obj)
    bad['bad-high-s.car'] = await buildCar(cid, bytes, rp.blocks, { dropRoot: repo.cid })
  }

  // commit for another DID, correctly signed by the same key
  {
    ensureValidDid(OTHER_DID)
    const c = await makeCommit({ ...unsigned, did: OTHER_DID }, keypair)
    bad['bad-did-mismatch.car'] = await buildCar(c.cid, c.bytes, rp.blocks, { dropRoot: repo.cid })
  }

  // record bytes altered (still valid, canonical DAG-CBOR of the same length), CID unchanged
  {
    const d = target.w.record.digest
    const last = d[d.length - 1]
    const tamperedRecord = { ...target.w.record, digest: d.slice(0, -1) + (last === '0' ? '1' : '0') }
    const tb = cbor.encode(tamperedRecord)
    assert(tb.length === recordBytes.length, 'tampered record has the same length')
    assert(!(await cbor.cidForLex(tamperedRecord)).equals(recordCid), 'tampered bytes hash differently')
    bad['bad-record-tampered.car'] = await buildCar(repo.cid, commitBytes, rp.blocks, {
      replace: { [recordCid.toString()]: tb },
    })
  }

  // record block removed
  bad['bad-record-missing.car'] = await buildCar(repo.cid, commitBytes, rp.blocks, { drop: [recordCid] })

  // deepest MST node of the target path removed (it is not the root: path has >= 3 nodes)
  const droppedPresentNode = targetNodes[targetNodes.length - 1]
  bad['bad-mst-node-missing.car'] = await buildCar(repo.cid, commitBytes, rp.blocks, {
    drop: [droppedPresentNode],
  })

  // deepest MST node of the absent key's path removed: must be an error, never "absent"
  const droppedAbsentNode = absent.path[absent.path.length - 1]
  assert(!droppedAbsentNode.equals(repo.commit.data), 'dropped absent-path node is not the root')
  bad['bad-absent-mst-node-missing.car'] = await buildCar(repo.cid, commitBytes, ap.blocks, {
    drop: [droppedAbsentNode],
  })

  // version 2 commit, correctly signed
  {
    const c = await makeCommit({ ...unsigned, version: 2 }, keypair)
    bad['bad-commit-v2.car'] = await buildCar(c.cid, c.bytes, rp.blocks, { dropRoot: repo.cid })
  }

  const cars = {
    'record-proof.car': recordProofCar,
    'absent-proof.car': absentProofCar,
    'full-repo.car': fullRepoCar,
    ...bad,
  }
  for (const [name, bytes] of Object.entries(cars)) writeFileSync(join(dir, name), bytes)

  // --- keys and DID documents -------------------------------------------------------------
  const pubCompressed = keypair.publicKeyBytes()
  assert(pubCompressed.length === 33 && (pubCompressed[0] === 2 || pubCompressed[0] === 3), 'compressed key')
  const pubUncompressed = parseDidKey(didKey).keyBytes
  assert(pubUncompressed.length === 65 && pubUncompressed[0] === 4, 'uncompressed key')
  const publicKeyMultibase = didKey.slice('did:key:'.length)
  const legacyMultibase = bytesToMultibase(pubUncompressed, 'base58btc')

  const didDoc = {
    '@context': [
      'https://www.w3.org/ns/did/v1',
      'https://w3id.org/security/multikey/v1',
      'https://w3id.org/security/suites/secp256k1-2019/v1',
    ],
    id: DID,
    alsoKnownAs: [`at://${HANDLE}`],
    verificationMethod: [
      { id: `${DID}#atproto`, type: 'Multikey', controller: DID, publicKeyMultibase },
    ],
    service: [{ id: '#atproto_pds', type: 'AtprotoPersonalDataServer', serviceEndpoint: PDS }],
  }
  const didDocLegacy = {
    '@context': ['https://www.w3.org/ns/did/v1'],
    id: DID,
    alsoKnownAs: [`at://${HANDLE}`],
    verificationMethod: [
      { id: '#atproto', type: curve.legacyType, controller: DID, publicKeyMultibase: legacyMultibase },
    ],
    service: [{ id: '#atproto_pds', type: 'AtprotoPersonalDataServer', serviceEndpoint: PDS }],
  }
  // cross-check both documents with the official helpers (@atproto/common-web + @atproto/crypto;
  // this is what @atproto/identity's getDidKeyFromMultibase does for the legacy types)
  assert(getSigningDidKey(didDoc) === didKey, 'Multikey doc -> didKey')
  assert(getPdsEndpoint(didDoc) === PDS && getPdsEndpoint(didDocLegacy) === PDS, 'pds endpoint')
  {
    const vm = getSigningKey(didDocLegacy)
    assert(vm.type === curve.legacyType, 'legacy type')
    const raw = multibaseToBytes(vm.publicKeyMultibase)
    assert(raw.length === 65 && raw[0] === 4, 'legacy key is a bare uncompressed point')
    assert(formatDidKey(curve.jwtAlg, raw) === didKey, 'legacy doc -> didKey')
  }
  await writeJson(join(dir, 'did-doc.json'), didDoc)
  await writeJson(join(dir, 'did-doc-legacy.json'), didDocLegacy)
  await writeJson(join(dir, 'did-log.json'), log)

  // --- cases --------------------------------------------------------------------------------
  remember(recordCid)
  const recordCidStr = recordCid.toString()
  const P = { collection: MANIFEST, rkey: target.w.rkey } // present target
  const A = { collection: MANIFEST, rkey: absent.rkey } // absent key
  const ok = (present) => ({
    expectValid: true,
    expectPresent: present,
    expectRecordCid: present ? recordCidStr : null,
  })
  const invalid = { expectValid: false, expectPresent: null, expectRecordCid: null }
  const caseDefs = [
    { name: 'present', car: 'record-proof.car', ...P, ...ok(true), note: 'getRecord inclusion proof' },
    { name: 'present-full-repo', car: 'full-repo.car', ...P, ...ok(true), note: 'getRepo CAR proves inclusion' },
    { name: 'absent', car: 'absent-proof.car', ...A, ...ok(false), note: 'getRecord non-inclusion proof' },
    { name: 'absent-full-repo', car: 'full-repo.car', ...A, ...ok(false), note: 'getRepo CAR proves non-inclusion' },
    { name: 'bad-wrong-key', car: 'bad-wrong-key.car', ...P, ...invalid, note: 'commit signed by otherDidKey' },
    { name: 'bad-high-s', car: 'bad-high-s.car', ...P, ...invalid, note: 'sig = (r, n-s); valid only without the low-S rule' },
    { name: 'bad-did-mismatch', car: 'bad-did-mismatch.car', ...P, ...invalid, note: `commit.did = ${OTHER_DID}, correctly signed` },
    { name: 'bad-record-tampered', car: 'bad-record-tampered.car', ...P, ...invalid, note: 'record block does not hash to its CID' },
    { name: 'bad-record-missing', car: 'bad-record-missing.car', ...P, ...invalid, note: 'record block missing' },
    { name: 'bad-mst-node-missing', car: 'bad-mst-node-missing.car', ...P, ...invalid, note: `MST node ${droppedPresentNode} (deepest on the target path) missing` },
    { name: 'bad-absent-mst-node-missing', car: 'bad-absent-mst-node-missing.car', ...A, ...invalid, claimAbsent: true, note: `MST node ${droppedAbsentNode} (deepest on the absent path) missing; must not read as absent` },
    { name: 'bad-commit-v2', car: 'bad-commit-v2.car', ...P, ...invalid, note: 'commit version 2, correctly signed' },
    { name: 'present-wrong-didkey', car: 'record-proof.car', ...P, ...invalid, didKey: otherDidKey, note: 'valid proof checked against otherDidKey' },
    { name: 'present-cross-curve-didkey', car: 'record-proof.car', ...P, ...invalid, didKey: crossCurveDidKey, note: 'valid proof checked against the other curve\'s fixture key' },
    { name: 'present-wrong-did', car: 'record-proof.car', ...P, ...invalid, did: OTHER_DID, note: `valid proof, but the verifier expects ${OTHER_DID}` },
  ]
  const cases = []
  for (const c of caseDefs) {
    const entry = {
      name: c.name,
      car: c.car,
      collection: c.collection,
      rkey: c.rkey,
      didKey: c.didKey ?? didKey,
      did: c.did ?? DID,
      expectValid: c.expectValid,
      expectPresent: c.expectPresent,
      expectRecordCid: c.expectRecordCid,
      note: c.note,
    }
    // The claim given to verifyProofs: the record CID for cases about the target, null (= "prove
    // absence") for cases about the absent key.
    const claimCid = c.rkey === absent.rkey ? null : recordCidStr
    entry.officialResult = await officialResult(cars[c.car], { ...entry, claimCid })
    // Every expectation must agree with the official library: valid <=> "verified".
    // (No disagreements exist at the pinned versions; if one ever appears, this throws.)
    if (entry.expectValid !== (entry.officialResult === 'verified')) {
      throw new Error(`${curveName}/${c.name}: expectValid=${entry.expectValid} but official verifyProofs says ${entry.officialResult}`)
    }
    cases.push(entry)
  }

  // --- fixture.json ---------------------------------------------------------------------------
  const targetPath = await describePath(full.blocks, targetNodes)
  const absentPath = await describePath(full.blocks, absent.path)
  const fixture = {
    comment:
      'Generated by testdata/tsgen/gen-proof.mjs with the official @atproto TypeScript libraries. ' +
      'Keys are TEST ONLY. See testdata/proofs/README.md.',
    curve: curveName,
    jwtAlg: curve.jwtAlg,
    did: DID,
    otherDid: OTHER_DID,
    handle: HANDLE,
    pds: PDS,
    didKey,
    otherDidKey,
    publicKeyMultibase,
    publicKeyLegacyMultibase: legacyMultibase,
    publicKeyCompressedHex: hex(pubCompressed),
    publicKeyUncompressedHex: hex(pubUncompressed),
    privateKeyHex_TEST_ONLY: privHex,
    otherPrivateKeyHex_TEST_ONLY: otherPrivHex,
    commit: {
      cid: repo.cid.toString(),
      rev: REV,
      data: repo.commit.data.toString(),
      sigHex: hex(sig),
      blockHex: hex(commitBytes),
      unsignedHex: hex(unsignedBytes),
    },
    record: {
      collection: MANIFEST,
      rkey: target.w.rkey,
      cid: recordCidStr,
      digest: target.w.record.digest,
      blockHex: hex(recordBytes),
      value: target.w.record,
      proofPath: targetPath,
    },
    absent: {
      collection: MANIFEST,
      rkey: absent.rkey,
      proofPath: absentPath,
    },
    mstRootLayer: targetPath[0].layer,
    allKeys: writes.map((w) => `${w.collection}/${w.rkey}`).sort(),
    cases,
  }
  await writeJson(join(dir, 'fixture.json'), fixture)
  return fixture
}

// ---------------------------------------------------------------------------------------------
// OUTDIR/README.md (generated, so that `diff -r` in regen-check.sh covers it and it cannot go stale)
// ---------------------------------------------------------------------------------------------

function readme(fixtures) {
  const k = fixtures.k256
  const layers = (p) => p.map((n) => `layer ${n.layer} (${n.entries} entr${n.entries === 1 ? 'y' : 'ies'})`).join(' -> ')
  const caseRows = k.cases
    .map((c) => {
      const who = c.didKey !== k.didKey ? ' (other key)' : c.did !== k.did ? ' (other DID)' : ''
      return `| \`${c.name}\` | \`${c.car}\`${who} | ${c.expectValid} | ${c.expectPresent} | ${c.note} |`
    })
    .join('\n')
  const perCurve = Object.values(fixtures)
    .map(
      (f) =>
        `- \`${f.curve}/\`: did:key \`${f.didKey}\`, commit \`${f.commit.cid}\`, ` +
        `official verifyProofs: ${f.cases.filter((c) => c.officialResult === 'verified').length} verified, ` +
        `${f.cases.filter((c) => c.officialResult !== 'verified').length} rejected`,
    )
    .join('\n')
  return `# ATProto proof fixtures (generated; TEST-ONLY keys)

**Do not edit these files by hand.** Everything in this directory, including this README, is written
by \`testdata/tsgen/gen-proof.mjs\` using the official ATProto TypeScript libraries
(\`@atproto/repo\`, \`@atproto/crypto\`, \`@atproto/lex-cbor\`, \`@atproto/lex-data\`,
\`@atproto/common-web\`, \`@atproto/syntax\`; exact versions in \`testdata/tsgen/package-lock.json\`).

Regenerate and check that the committed files are byte-identical:

    sh testdata/tsgen/regen-check.sh        # TAP output; also runs under \`prove\`

(it runs \`npm ci\` in \`testdata/tsgen\` when needed; needs Node >= 20 and the npm registry.)
To change the fixtures, edit \`gen-proof.mjs\` and run \`node testdata/tsgen/gen-proof.mjs testdata/proofs\`.

**The private keys are TEST ONLY.** They are sha256 of fixed public labels and are printed in
\`fixture.json\` (\`privateKeyHex_TEST_ONLY\`). The DID \`${k.did}\` is a real did:plc (the hash of
a genesis operation that \`@did-plc/lib\` signed with a TEST-ONLY rotation key), registered nowhere:
its genesis names the k256 key, a second operation rotates to the p256 key, and each curve's
\`did-log.json\` is the audit log whose last state that curve's \`did-doc.json\` shows.
\`${k.handle}\` and \`${k.pds}\` are placeholders.

## Contents

\`k256/\` and \`p256/\` hold the same repository (${k.allKeys.length} records: ${k.allKeys.filter((x) => x.startsWith(k.record.collection + '/')).length}
\`${k.record.collection}\` + ${k.allKeys.filter((x) => !x.startsWith(k.record.collection + '/')).length} \`app.bsky.feed.post\`, rev \`${k.commit.rev}\`, MST root \`${k.commit.data}\`),
signed with a secp256k1 key and a P-256 key respectively.

${perCurve}

Target record: \`${k.record.collection}/${k.record.rkey}\`, CID \`${k.record.cid}\`.
Its proof path: ${layers(k.record.proofPath)}.
Absent key: \`${k.absent.collection}/${k.absent.rkey}\`, path: ${layers(k.absent.proofPath)}.

| file | origin |
|---|---|
| \`record-proof.car\` | \`getRecords()\` (what \`com.atproto.sync.getRecord\` serves) for the target record |
| \`absent-proof.car\` | \`getRecords()\` for the absent key (non-inclusion proof) |
| \`full-repo.car\` | \`getFullRepo()\` (what \`com.atproto.sync.getRepo\` serves) |
| \`bad-wrong-key.car\` | record-proof with the same unsigned commit re-signed by \`otherDidKey\` |
| \`bad-high-s.car\` | record-proof with the commit signature replaced by (r, n-s); it verifies if low-S is not enforced (asserted by the generator) |
| \`bad-did-mismatch.car\` | record-proof with a commit for \`${k.otherDid}\`, correctly signed |
| \`bad-record-tampered.car\` | record-proof with the record block's bytes changed (one digest character) and its CID kept |
| \`bad-record-missing.car\` | record-proof without the record block |
| \`bad-mst-node-missing.car\` | record-proof without the deepest MST node of the target path |
| \`bad-absent-mst-node-missing.car\` | absent-proof without the deepest MST node of the absent key's path |
| \`bad-commit-v2.car\` | record-proof with a \`version: 2\` commit, correctly signed |
| \`did-doc.json\` | did:plc document, \`#atproto\` key as \`Multikey\` (compressed point with multicodec) |
| \`did-doc-legacy.json\` | the same document with the legacy key type (\`EcdsaSecp256k1VerificationKey2019\` / \`EcdsaSecp256r1VerificationKey2019\`), \`publicKeyMultibase\` = z + base58btc(65-byte uncompressed point, no multicodec) |
| \`fixture.json\` | keys, commit and record details, and \`cases[]\` |

## Cases (\`fixture.json\` → \`cases[]\`, identical names for both curves)

A verifier run as \`verify(car, did, didKey, collection, rkey)\` passes a case when it accepts exactly the
\`expectValid\` cases and, for those, reports presence (\`expectPresent\`) and the record CID
(\`expectRecordCid\`, null when absent). \`officialResult\` is what \`verifyProofs()\` from
\`@atproto/repo\` returned for the same input; the generator refuses to write fixtures where it
disagrees with \`expectValid\`.

| name | CAR | expectValid | expectPresent | what |
|---|---|---|---|---|
${caseRows}
`
}

// ---------------------------------------------------------------------------------------------

async function main() {
  const outDir = process.argv[2]
  if (!outDir || process.argv.length > 3) {
    process.stderr.write('usage: node gen-proof.mjs OUTDIR\n')
    process.exit(2)
  }
  ensureValidNsid(MANIFEST)
  ensureValidNsid(POST)
  ensureValidTid(REV)

  const keys = {}
  for (const [name, curve] of Object.entries(CURVES)) {
    const mk = async (label) => {
      const privHex = await sha256Hex(`atcr proof fixture ${name} ${label} key (TEST ONLY)`)
      const x = BigInt('0x' + privHex)
      assert(x > 0n && x < curve.n, 'private key is a valid scalar')
      return { privHex, keypair: await curve.Keypair.import(privHex, { exportable: true }) }
    }
    const a = await mk('signing')
    const b = await mk('other')
    keys[name] = { keypair: a.keypair, privHex: a.privHex, otherKeypair: b.keypair, otherPrivHex: b.privHex }
  }

  const logs = await makeDids(keys)
  ensureValidDid(DID)
  ensureValidDid(OTHER_DID)
  const writes = await buildWrites()
  const summary = []
  const fixtures = {}
  for (const name of Object.keys(CURVES)) {
    const f = await genCurve(outDir, name, keys, writes, logs[name])
    fixtures[name] = f
    summary.push(`${name}: commit ${f.commit.cid}, ${f.cases.length} cases agree with verifyProofs`)
  }
  writeFileSync(join(outDir, 'README.md'), readme(fixtures))
  process.stderr.write(summary.join('\n') + '\n')
}

main().catch((err) => {
  process.stderr.write(`gen-proof.mjs: ${err?.stack ?? err}\n`)
  process.exit(1)
})
