#!/usr/bin/env node
// gen-ratify.mjs -- the end-to-end fixture for the Ratify plugin `atproto`, made with the official
// @atproto TypeScript libraries (versions pinned in package.json / package-lock.json).
//
// Usage:  node gen-ratify.mjs OUTDIR          (the committed copy is testdata/ratify)
//
// What it writes (everything under OUTDIR is generated; testdata/tsgen/regen-check.sh regenerates
// it into a temporary directory and diffs it byte for byte):
//
//   OUTDIR/fixture/fixture.json                       every DID, key, digest, CID and rev below
//   OUTDIR/fixture/registry/*                         OCI content of the repository atv/app, and
//   OUTDIR/fixture/registry/push.list                 the order integration/fixture/up.sh pushes it in
//   OUTDIR/fixture/plc/<did>.log.json                 did:plc audit logs (the fixture server appends a
//                                                     PDS operation when it starts; README: why)
//   OUTDIR/fixture/plc/<did>.json                     DID documents as a PLC directory serves them,
//                                                     with the PDS as the placeholder "@PDS@" / "@PDS500@"
//   OUTDIR/fixture/pds/<did>/io.atcr.manifest/<rkey>.car
//                                                     com.atproto.sync.getRecord bodies (getRecords)
//   OUTDIR/policies/*.yaml                            trust-policy files the samples use
//   OUTDIR/<scenario>.json                            sample Ratify requests with their expected verdicts
//   OUTDIR/README.md
//
// Every CAR is checked with the official verifyProofs() before anything is written: the script
// throws when the library's answer differs from what the scenario needs (present and verified,
// absent and verified, or refused for the wrong key).
//
// Determinism: private keys are sha256 of fixed labels, commit revs are fixed TIDs, timestamps are
// fixed, and ECDSA signing in @atproto/crypto is RFC 6979 deterministic, so re-running gives
// byte-identical files.
//
// !!! The private keys are TEST ONLY.  They are derived from public labels and printed in
// !!! fixture/fixture.json; never use them, or these DIDs, for anything real.

import { mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join } from 'node:path'

import * as plcLib from '@did-plc/lib'

import {
  MemoryBlockstore,
  Repo,
  MST,
  WriteOpAction,
  concatBytesAsync,
  getRecords,
  readCarWithRoot,
  verifyProofs,
} from '@atproto/repo'
import { P256Keypair, Secp256k1Keypair, sha256 } from '@atproto/crypto'
import * as cbor from '@atproto/lex-cbor'
import { TID, getPdsEndpoint, getSigningDidKey } from '@atproto/common-web'
import {
  ensureValidDid,
  ensureValidHandle,
  ensureValidNsid,
  ensureValidRecordKey,
  ensureValidTid,
} from '@atproto/syntax'

// @did-plc/lib signs with its own @atproto/crypto (0.1.0): RFC 6979, low-S.
const { Secp256k1Keypair: PlcK256Keypair } = createRequire(import.meta.resolve('@did-plc/lib'))('@atproto/crypto')

// ---------------------------------------------------------------------------------------------
// Fixed inputs
// ---------------------------------------------------------------------------------------------

const MANIFEST = 'io.atcr.manifest'
const POST = 'app.bsky.feed.post'
const PROFILE = 'app.bsky.actor.profile'
const REPOSITORY = 'atv/app' // the registry repository
const REPO_FOR_RECORDS = '127.0.0.1/atv/app' // `repository` field of the records (informational)
const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json'
const OCI_INDEX = 'application/vnd.oci.image.index.v1+json'
const OCI_CONFIG = 'application/vnd.oci.image.config.v1+json'
const OCI_LAYER = 'application/vnd.oci.image.layer.v1.tar'
const SIG_TYPE = 'application/vnd.atproto.signature.v1+json'
const EMPTY_TYPE = 'application/vnd.oci.empty.v1+json'
const EMPTY_DIGEST = 'sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a'
const CLAIMED_PDS = 'https://pds.atv.test' // the artifacts' pdsEndpoint claim (never used to decide)
const EVIL_PDS = 'https://evil.example.com'
const CREATED_AT = '2025-03-01T00:00:00.000Z'
const SIGNED_AT = '2025-03-01T00:00:01.000Z'
const T0_US = Date.UTC(2025, 2, 1) * 1000 // TIDs are microseconds since the epoch
const N_FILLER_MANIFESTS = 30
const N_FILLER_POSTS = 10
const N_SMALL_FILLERS = 4 // bob's and mallory's repositories

// Placeholders the fixture server / the Ratify harness substitute at run time.
const PH = {
  registry: '@REGISTRY@',
  plc: '@PLC@',
  pds: '@PDS@',
  pds500: '@PDS500@',
  fixture: '@FIXTURE@',
  cache: '@CACHE@',
}

const CURVES = {
  k256: {
    Keypair: Secp256k1Keypair,
    keyType: 'K-256',
    algorithm: 'ECDSA-K256-SHA256',
    context: 'https://w3id.org/security/suites/secp256k1-2019/v1',
    n: 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n,
  },
  p256: {
    Keypair: P256Keypair,
    keyType: 'P-256',
    algorithm: 'ECDSA-P256-SHA256',
    context: 'https://w3id.org/security/suites/ecdsa-2019/v1',
    n: 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n,
  },
}

// Every DID is a real did:plc: the hash of a genesis operation signed by the account's rotation
// key (K-256, TEST ONLY) with @did-plc/lib. The genesis names GENESIS_PDS, which serves nothing:
// the fixture server appends, at start, an operation that moves the PDS to its own URL (the port
// is known only then), signed with the same rotation key by the same library.
const GENESIS_PDS = 'https://genesis-pds.atv.test'
const GENESIS_AT = '2025-02-01T00:00:00.000Z' // createdAt of every genesis in the audit logs
const SECOND_OP_AT = '2025-02-02T00:00:00.000Z' // createdAt of rotor's key rotation, gone's tombstone

// plc: what the PLC directory does for the DID:
//   log        GET /DID/log/audit serves the log (plus the server's PDS operation), GET /DID the
//              directory's document
//   404        both answer 404 (a DID nobody registered)
//   tombstone  GET /DID answers 410; the log ends in a tombstone
//   stall      neither answers
//   alias      not an account: a second repository for the DID of `sameDid`, signed by another key
//   web        a did:web (did:web:NAME.atv.test): no directory; its document is fixture/web/DID.json,
//              served by nobody (.test never resolves): only offline bundles use it
// pds: the placeholder of the PDS operation the server appends.
// docKey: the key the log names is another key than the one that signs the repository (mallory).
// dirKey: the directory's document (GET /DID) names this account's signing key instead of the
//   key the log proves: a lying directory (victim; the weaker plcAuditLog:false mode believes it).
// genesisKey: the genesis names this account's key, and a later operation rotates to the
//   account's own key (rotor: A -> B).
const ACCOUNTS = {
  alice: { curve: 'k256', plc: 'log', pds: PH.pds, repo: true },
  bob: { curve: 'p256', plc: 'log', pds: PH.pds, repo: true },
  mallory: { curve: 'k256', plc: 'log', pds: PH.pds, repo: true, docKey: 'm2' },
  ghost: { curve: 'k256', plc: '404' },
  gone: { curve: 'k256', plc: 'tombstone' },
  stall: { curve: 'k256', plc: 'stall' },
  deadpds: { curve: 'k256', plc: 'log', pds: PH.pds500 },
  victim: { curve: 'k256', plc: 'log', pds: PH.pds, repo: true, dirKey: 'forger' },
  forger: { curve: 'k256', plc: 'alias', sameDid: 'victim', repo: true },
  rotor: { curve: 'k256', plc: 'log', pds: PH.pds, repo: true, genesisKey: 'rotorold' },
  rotorold: { curve: 'k256', plc: 'alias', sameDid: 'rotor', repo: true },
  webby: { curve: 'k256', plc: 'web', pds: PH.pds, repo: true },
}

// record: 'own' (digest = the image's), 'other' (rkey of the image, digest of `otherImage`),
// 'absent' (the signer's repository has no such record; its CAR proves absence), null (no PDS step).
// An image with `sigs` has one signature per entry (each entry: signer, record, blob as above);
// the others have exactly one, described by the image's own signer/record/blob fields.
const IMAGES = [
  { name: 'good', signer: 'alice', record: 'own', what: 'signed by alice (K-256); verifies' },
  { name: 'bob', signer: 'bob', record: 'own', what: 'signed by bob (P-256); verifies' },
  { name: 'revoked', signer: 'alice', record: 'absent', what: "alice's record was deleted: the PDS serves a non-inclusion proof" },
  { name: 'rewritten', signer: 'alice', record: 'other', otherImage: 'good', what: "alice's record under this image's rkey names the digest of image good" },
  { name: 'badsig', signer: 'mallory', record: 'own', what: "mallory's repository is signed by key M1, her log names M2" },
  { name: 'ghost', signer: 'ghost', record: null, what: 'the PLC directory answers 404 for the DID' },
  { name: 'gone', signer: 'gone', record: null, what: "the DID's operation log ends in a tombstone (its document: 410)" },
  { name: 'stall', signer: 'stall', record: null, what: 'the PLC directory never answers for the DID' },
  { name: 'deadpds', signer: 'deadpds', record: null, what: "the DID's PDS (from its log) answers 500 to everything" },
  { name: 'badartifact', signer: 'alice', record: 'own', blob: 'version2', what: 'signature blob has version "2.0"' },
  { name: 'wrongsubject', signer: 'alice', record: 'own', blob: 'subject:bob', what: "signature blob's subject.digest is image bob's (the manifest's subject is right)" },
  { name: 'otherpds', signer: 'alice', record: 'own', blob: 'claims', what: 'signature blob claims pdsEndpoint https://evil.example.com and a wrong key; only claims, so it verifies' },
  {
    name: 'multi',
    sigs: [
      { signer: 'alice', record: 'own' },
      { signer: 'bob', record: 'own' },
    ],
    what: 'signed by alice (K-256) and by bob (P-256): two signature manifests, both verify',
  },
  { name: 'victimgood', signer: 'victim', record: 'own', what: "signed by victim with the key her log proves; the directory's document lies (names forger's key)" },
  { name: 'victimforged', signer: 'forger', record: 'own', what: "a commit for victim's DID signed by forger's key, the key the lying directory's document names" },
  { name: 'rotornew', signer: 'rotor', record: 'own', what: "signed by rotor's current key B (the log rotated A -> B)" },
  { name: 'rotorold', signer: 'rotorold', record: 'own', what: "a newer commit for rotor's DID signed by the rotated-out key A" },
  { name: 'webgood', signer: 'webby', record: 'own', what: 'signed by webby, a did:web (offline bundles only: its host never resolves)' },
  {
    name: 'multibad',
    sigs: [
      { signer: 'alice', record: 'own' },
      { signer: 'mallory', record: 'own' },
    ],
    what: "signed by alice (verifies) and by mallory (as badsig: her repository key M1 is not the M2 her log names)",
  },
]

// The signatures of an image. `file` is the prefix of the registry files of one signature:
// NAME for a singly signed image (NAME.blob.json, NAME.sig.json), NAME.SIGNER when there are
// several; `label` names the signature in messages and in the README.
function sigsOf(def) {
  const list = def.sigs ?? [{ signer: def.signer, record: def.record, blob: def.blob, otherImage: def.otherImage }]
  const multi = list.length > 1
  return list.map((s) => ({
    ...s,
    file: multi ? `${def.name}.${s.signer}` : def.name,
    label: multi ? `${def.name} (${s.signer})` : def.name,
  }))
}

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

const hex = (b) => Buffer.from(b).toString('hex')
const sha256Hex = async (data) => hex(await sha256(data))
const enc = (s) => new TextEncoder().encode(s)

function assert(cond, msg) {
  if (!cond) throw new Error('assertion failed: ' + msg)
}

const writeBytes = (path, bytes) => {
  mkdirSync(join(path, '..'), { recursive: true })
  writeFileSync(path, bytes)
}
const writeJsonPretty = (path, value) => writeBytes(path, JSON.stringify(value, null, 2) + '\n')

// Object with keys sorted (what Go's encoding/json does with Ratify's map[string]any).
const sorted = (o) => Object.fromEntries(Object.keys(o).sort().map((k) => [k, o[k]]))

async function keypairFor(label, curveName) {
  const curve = CURVES[curveName]
  const privHex = await sha256Hex(`atv ratify fixture ${label} ${curveName} key (TEST ONLY)`)
  const x = BigInt('0x' + privHex)
  assert(x > 0n && x < curve.n, 'private key is a valid scalar')
  return { privHex, keypair: await curve.Keypair.import(privHex, { exportable: true }) }
}

async function officialVerify(car, did, didKey, rkey, cid) {
  try {
    const res = await verifyProofs(car, [{ collection: MANIFEST, rkey, cid }], did, didKey)
    if (res.verified.length === 1 && res.unverified.length === 0) return 'verified'
    if (res.unverified.length === 1 && res.verified.length === 0) return 'unverified'
    return 'error: unexpected verifyProofs result shape'
  } catch (err) {
    return 'error: ' + String(err?.message ?? err).replace(/\s+/g, ' ').trim()
  }
}

// ---------------------------------------------------------------------------------------------
// Accounts, operation logs, DID documents
// ---------------------------------------------------------------------------------------------

// The directory's document for a DID: the shape plc.directory serves, naming `didKey`.
function didDocument(did, handle, curve, didKey, pds) {
  return {
    '@context': ['https://www.w3.org/ns/did/v1', 'https://w3id.org/security/multikey/v1', CURVES[curve].context],
    id: did,
    alsoKnownAs: [`at://${handle}`],
    verificationMethod: [
      { id: `${did}#atproto`, type: 'Multikey', controller: did, publicKeyMultibase: didKey.slice('did:key:'.length) },
    ],
    service: [{ id: '#atproto_pds', type: 'AtprotoPersonalDataServer', serviceEndpoint: pds }],
  }
}

// One audit-log entry as GET /DID/log/audit serves it.
async function logEntry(did, op, createdAt) {
  const { cid } = await plcLib.getLastOpWithCid([op])
  return { did, operation: op, cid: cid.toString(), nullified: false, createdAt }
}

// The signed operations of a DID (genesis first) and its DID. The library's own
// validateOperationLog must agree with what the fixture says of each log.
async function makeLog(name, a, handle, rotation, genesisKey, currentKey) {
  const { op: genesis, did } = await plcLib.createOp({
    signingKey: genesisKey,
    handle,
    pds: GENESIS_PDS,
    rotationKeys: [rotation.did()],
    signer: rotation,
  })
  const ops = [genesis]
  if (genesisKey !== currentKey) ops.push(await plcLib.updateAtprotoKeyOp(genesis, rotation, currentKey))
  if (a.plc === 'tombstone') {
    const { cid } = await plcLib.getLastOpWithCid(ops)
    ops.push(await plcLib.tombstoneOp(cid, rotation))
  }
  const log = []
  for (const [i, op] of ops.entries()) log.push(await logEntry(did, op, i === 0 ? GENESIS_AT : SECOND_OP_AT))
  const data = await plcLib.validateOperationLog(did, ops)
  if (a.plc === 'tombstone') {
    assert(data === null, `${name}: the library reads the log as tombstoned`)
  } else {
    // the PDS operation atproto-server.js appends (with its own URL), as the library checks it
    const pdsOp = await plcLib.updatePdsOp(ops[ops.length - 1], rotation, 'http://127.0.0.1:8080')
    const served = await plcLib.validateOperationLog(did, [...ops, pdsOp])
    assert(served.verificationMethods.atproto === currentKey, `${name}: the library reads the current key`)
    assert(served.services.atproto_pds.endpoint === 'http://127.0.0.1:8080', `${name}: the library reads the PDS`)
    assert(served.alsoKnownAs[0] === `at://${handle}`, `${name}: the library reads the handle`)
  }
  return { did, log }
}

async function makeAccounts() {
  const out = {}
  for (const [name, a] of Object.entries(ACCOUNTS)) {
    const signing = await keypairFor(name, a.curve)
    if (a.plc === 'alias') {
      const main = out[a.sameDid]
      assert(main, `${name}: ${a.sameDid} comes first`)
      out[name] = { name, ...a, did: main.did, handle: main.handle, signing, listed: main.listed, doc: null, log: null }
      out[name].publicKeyMultibase = signing.keypair.did().slice('did:key:'.length)
      continue
    }
    const handle = `${name}.atv.test`
    ensureValidHandle(handle)
    if (a.plc === 'web') {
      const did = `did:web:${handle}`
      ensureValidDid(did)
      const doc = didDocument(did, handle, a.curve, signing.keypair.did(), a.pds)
      assert(getSigningDidKey(doc) === signing.keypair.did(), `${name}: doc key`)
      const publicKeyMultibase = signing.keypair.did().slice('did:key:'.length)
      out[name] = { name, ...a, did, handle, signing, listed: signing, publicKeyMultibase, doc, log: null }
      continue
    }
    // the key the log proves: the signing key, or another one (mallory)
    const listed = a.docKey ? await keypairFor(`${name} ${a.docKey}`, a.curve) : signing
    const rotPriv = await sha256Hex(`atv ratify fixture ${name} rotation k256 key (TEST ONLY)`)
    const rotation = await PlcK256Keypair.import(rotPriv, { exportable: true })
    const genesisKey = a.genesisKey ? (await keypairFor(a.genesisKey, a.curve)).keypair.did() : listed.keypair.did()
    const { did, log } = await makeLog(name, a, handle, rotation, genesisKey, listed.keypair.did())
    ensureValidDid(did)
    const rot = { privHex: rotPriv, didKey: rotation.did() }
    if (a.plc === '404' || a.plc === 'stall') {
      // the directory has nothing to serve: the DID stays real, its log is only kept in fixture.json
      out[name] = { name, ...a, did, handle, signing, listed, rot, doc: null, log, logServed: false }
      continue
    }
    // what the directory's document says (GET /DID): the truth, or a lie (victim)
    const dirKey = a.dirKey ? (await keypairFor(a.dirKey, a.curve)).keypair.did() : listed.keypair.did()
    const doc = a.plc === 'log' ? didDocument(did, handle, a.curve, dirKey, a.pds) : null
    if (doc) {
      // the official readers agree on key and PDS (with the placeholder substituted as the server does)
      assert(getSigningDidKey(doc) === dirKey, `${name}: doc key`)
      const served = JSON.parse(JSON.stringify(doc).replaceAll(a.pds, 'http://127.0.0.1:8080'))
      assert(getPdsEndpoint(served) === 'http://127.0.0.1:8080', `${name}: doc pds`)
    }
    const publicKeyMultibase = listed.keypair.did().slice('did:key:'.length)
    out[name] = { name, ...a, did, handle, signing, listed, rot, dirKey, publicKeyMultibase, doc, log, logServed: true }
  }
  return out
}

// ---------------------------------------------------------------------------------------------
// OCI content
// ---------------------------------------------------------------------------------------------

const descriptor = (mediaType, bytes, digest) => ({ mediaType, digest, size: bytes.length })

async function blobOf(bytes) {
  return { bytes, digest: `sha256:${await sha256Hex(bytes)}`, size: bytes.length }
}

async function makeImage(name) {
  const layer = await blobOf(enc(`atv fixture layer of image ${name}\n`))
  const config = await blobOf(
    enc(
      JSON.stringify({
        architecture: 'amd64',
        os: 'linux',
        config: { Labels: { 'dev.atv.fixture.image': name } },
        rootfs: { type: 'layers', diff_ids: [layer.digest] },
      }),
    ),
  )
  const manifest = await blobOf(
    enc(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: OCI_MANIFEST,
        config: descriptor(OCI_CONFIG, config.bytes, config.digest),
        layers: [descriptor(OCI_LAYER, layer.bytes, layer.digest)],
        annotations: { 'org.opencontainers.image.title': `atv fixture ${name}` },
      }),
    ),
  )
  return { layer, config, manifest }
}

function signatureBlob(img, sd, acct, images, accounts, commitCid) {
  const rkey = img.manifest.digest.slice('sha256:'.length)
  const blob = {
    $type: 'io.atcr.atproto.signature',
    version: '1.0',
    subject: { digest: img.manifest.digest, mediaType: OCI_MANIFEST },
    atproto: {
      did: acct.did,
      handle: acct.handle,
      pdsEndpoint: CLAIMED_PDS,
      recordUri: `at://${acct.did}/${MANIFEST}/${rkey}`,
      commitCid,
      signedAt: SIGNED_AT,
    },
    signature: {
      algorithm: CURVES[acct.curve].algorithm,
      keyId: `${acct.did}#atproto`,
      publicKeyMultibase: acct.publicKeyMultibase,
    },
  }
  if (sd.blob === 'version2') blob.version = '2.0'
  if (sd.blob?.startsWith('subject:')) {
    blob.subject.digest = images[sd.blob.slice('subject:'.length)].manifest.digest
  }
  if (sd.blob === 'claims') {
    blob.atproto.pdsEndpoint = EVIL_PDS
    blob.signature.publicKeyMultibase = accounts.claimedKey
  }
  return blob
}

// ---------------------------------------------------------------------------------------------
// Repositories
// ---------------------------------------------------------------------------------------------

const manifestRecord = (digest) => ({
  $type: MANIFEST,
  repository: REPO_FOR_RECORDS,
  digest,
  mediaType: OCI_MANIFEST,
  schemaVersion: 2,
  createdAt: CREATED_AT,
})

async function fillerWrites(acctName, nManifests, nPosts) {
  const writes = []
  for (let i = 0; i < nManifests; i++) {
    const d = await sha256Hex(`atv ratify fixture ${acctName} filler manifest ${i}`)
    writes.push({ action: WriteOpAction.Create, collection: MANIFEST, rkey: d, record: manifestRecord(`sha256:${d}`) })
  }
  for (let i = 0; i < nPosts; i++) {
    const rkey = TID.fromTime(T0_US + (i + 1) * 1e6, 0).toString()
    writes.push({
      action: WriteOpAction.Create,
      collection: POST,
      rkey,
      record: { $type: POST, text: `${acctName} fixture post ${i + 1}`, createdAt: CREATED_AT },
    })
  }
  writes.push({
    action: WriteOpAction.Create,
    collection: PROFILE,
    rkey: 'self',
    record: { $type: PROFILE, displayName: `${acctName} (atv fixture)` },
  })
  return writes
}

async function buildRepo(acct, idx, writes) {
  for (const w of writes) ensureValidRecordKey(w.rkey)
  const rev = TID.fromTime(T0_US + (idx + 1) * 3600 * 1e6, 0).toString()
  ensureValidTid(rev)
  const storage = new MemoryBlockstore()
  const commitData = await Repo.formatInitCommit(storage, acct.did, acct.signing.keypair, writes, rev)
  const repo = await Repo.createFromCommit(storage, commitData)
  assert(repo.commit.rev === rev && repo.commit.did === acct.did, `${acct.name}: commit`)
  return { storage, repo, rev, mst: MST.load(storage, repo.commit.data), nRecords: writes.length }
}

// ---------------------------------------------------------------------------------------------
// Sample Ratify requests
// ---------------------------------------------------------------------------------------------

function samples(fx, accounts) {
  const img = fx.images
  const subjectOf = (name) => `${PH.registry}/${REPOSITORY}@${img[name].digest}`
  const env = (subject) => ({
    RATIFY_VERIFIER_COMMAND: 'VERIFY',
    RATIFY_VERIFIER_SUBJECT: subject,
    RATIFY_VERIFIER_VERSION: '1.0.0',
  })
  // the signature of image NAME by SIGNER (default: its first, for most images its only one)
  const sigOf = (name, signer) => {
    const sg = signer ? img[name].signatures.find((x) => x.signer === signer) : img[name].signatures[0]
    assert(sg, `image ${name} has a signature by ${signer}`)
    return sg
  }
  const refDesc = (name, signer) => ({
    mediaType: OCI_MANIFEST,
    digest: sigOf(name, signer).manifestDigest,
    size: sigOf(name, signer).manifestSize,
    artifactType: SIG_TYPE,
  })
  const config = (extra) =>
    sorted({
      name: 'verifier-atproto',
      type: 'atproto',
      plcDirectory: PH.plc,
      allowLoopbackHTTP: true,
      cacheDir: PH.cache,
      verifyHandle: false,
      ...extra,
    })
  const storeConfig = { version: '1.0.0', pluginBinDirs: null, store: { name: 'oras', useHttp: true } }
  const stdin = (name, extra, signer) => ({ config: config(extra), storeConfig, referenceDesc: refDesc(name, signer) })
  const trusted = (...who) => ({ trustedDIDs: who.map((w) => accounts[w].did) })
  const policyPath = (file) => `${PH.fixture}/../policies/${file}`

  // what a successful verdict must report, from the fixture's facts
  const successExt = (name, policy, signer) => {
    const sg = sigOf(name, signer)
    const a = accounts[sg.signer]
    return {
      did: a.did,
      pds: PH.pds,
      recordUri: sg.recordUri,
      recordCid: sg.record.cid,
      commitCid: sg.commit.cid,
      commitRev: sg.commit.rev,
      keyId: `${a.did}#atproto`,
      keyType: CURVES[a.curve].keyType,
      subjectDigest: img[name].digest,
      signatureDigest: sg.blobDigest,
      signedAt: SIGNED_AT,
      policy,
    }
  }
  const ok = (name, policy, signer) => ({
    exitCode: 0,
    isSuccess: true,
    extensions: successExt(name, policy, signer),
    absent: ['handle'],
  })
  const fail = (reason, ext = {}, more = {}) => ({
    exitCode: 0,
    isSuccess: false,
    reason,
    extensions: { reason, ...ext },
    ...more,
  })
  const didOf = (name, signer) => ({ did: accounts[sigOf(name, signer).signer].did })

  const s = {}
  s['success-k256'] = {
    description: 'Image good, signed by alice (K-256) and trusted by trustedDIDs: verified.',
    env: env(subjectOf('good')),
    stdin: stdin('good', trusted('alice')),
    expect: ok('good', 'trustedDIDs'),
  }
  s['success-p256'] = {
    description: 'Image bob, signed by bob (P-256) and trusted by trustedDIDs: verified.',
    env: env(subjectOf('bob')),
    stdin: stdin('bob', trusted('bob')),
    expect: ok('bob', 'trustedDIDs'),
  }
  s['success-claims-differ'] = {
    description:
      'Image otherpds: the artifact claims another PDS and key, but the verified log decides, so it verifies and reports the real PDS.',
    env: env(subjectOf('otherpds')),
    stdin: stdin('otherpds', trusted('alice')),
    expect: (() => {
      const e = ok('otherpds', 'trustedDIDs')
      // the claims are reported next to the facts, never used for them
      e.extensions.claimedPds = EVIL_PDS
      e.extensions.claimedPublicKey = accounts.claimedKey
      return e
    })(),
  }
  s['success-tag-subject'] = {
    description: 'Image good named by its tag (good), which the plugin resolves; verified.',
    env: env(`${PH.registry}/${REPOSITORY}:good`),
    stdin: stdin('good', trusted('alice')),
    expect: ok('good', 'trustedDIDs'),
  }
  s['success-policy-file'] = {
    description: 'Image good under a trust-policy file whose enforce policy atv-app trusts alice: verified, policy named.',
    env: env(subjectOf('good')),
    stdin: stdin('good', { trustPolicy: policyPath('enforce.yaml') }),
    expect: ok('good', 'atv-app'),
  }
  // No sample with verifyHandle true: confirming a handle needs DNS (TXT
  // _atproto.HANDLE, or the HANDLE host for .well-known), which would leave the machine.
  s['untrusted-signer'] = {
    description: 'Image good is validly signed by alice, but trustedDIDs lists only bob.',
    env: env(subjectOf('good')),
    stdin: stdin('good', trusted('bob')),
    expect: fail('UNTRUSTED_SIGNER', didOf('good'), { messageContains: accounts.alice.did }),
  }
  s['nothing-trusted'] = {
    description: 'Neither trustedDIDs nor trustPolicy is given, so nobody is trusted.',
    env: env(subjectOf('good')),
    stdin: stdin('good', {}),
    expect: fail('UNTRUSTED_SIGNER'),
  }
  s['policy-denied'] = {
    description: 'A trust-policy file whose only scope (atcr.io/acme/**) does not match the image.',
    env: env(subjectOf('good')),
    stdin: stdin('good', { trustPolicy: policyPath('other-scope.yaml') }),
    expect: fail('POLICY_DENIED'),
  }
  s['policy-audit'] = {
    description:
      'An audit policy (atv-audit) that trusts only bob: the untrusted signer is reported in extensions.reason but the verdict passes.',
    env: env(subjectOf('good')),
    stdin: stdin('good', { trustPolicy: policyPath('audit.yaml') }),
    expect: {
      exitCode: 0,
      isSuccess: true,
      extensions: { reason: 'UNTRUSTED_SIGNER', audit: true, did: accounts.alice.did, policy: 'atv-audit' },
    },
  }
  s['bad-request'] = {
    description: 'timeoutMs is a string ("fast"), not a number of milliseconds.',
    env: env(subjectOf('good')),
    stdin: stdin('good', { ...trusted('alice'), timeoutMs: 'fast' }),
    expect: fail('BAD_REQUEST', {}, { messageContains: 'timeoutMs' }),
  }
  {
    const st = stdin('good', trusted('alice'))
    st.referenceDesc = { ...st.referenceDesc, digest: fx.missingManifest.digest, size: fx.missingManifest.size }
    s['registry-error'] = {
      description: 'referenceDesc names a signature manifest the registry does not have (404).',
      env: env(subjectOf('good')),
      stdin: st,
      expect: fail('REGISTRY_ERROR'),
    }
  }
  s['bad-artifact'] = {
    description: 'Image badartifact: its signature blob has version "2.0".',
    env: env(subjectOf('badartifact')),
    stdin: stdin('badartifact', trusted('alice')),
    expect: fail('BAD_SIGNATURE_ARTIFACT'),
  }
  s['subject-mismatch'] = {
    description: "SUBJECT is image bob, but referenceDesc is image good's signature manifest (whose subject is good).",
    env: env(subjectOf('bob')),
    stdin: stdin('good', trusted('alice', 'bob')),
    expect: fail('SUBJECT_MISMATCH'),
  }
  s['wrong-subject-in-blob'] = {
    description: "Image wrongsubject: the manifest's subject is right, the signature blob's subject.digest is image bob's.",
    env: env(subjectOf('wrongsubject')),
    stdin: stdin('wrongsubject', trusted('alice')),
    expect: fail('SUBJECT_MISMATCH'),
  }
  s['identity-not-found'] = {
    description: 'Image ghost: the (trusted) signer DID is unknown to the PLC directory (404).',
    env: env(subjectOf('ghost')),
    stdin: stdin('ghost', trusted('ghost')),
    expect: fail('IDENTITY_ERROR', didOf('ghost')),
  }
  s['identity-tombstoned'] = {
    description: "Image gone: the (trusted) signer DID's verified operation log ends in a tombstone.",
    env: env(subjectOf('gone')),
    stdin: stdin('gone', trusted('gone')),
    expect: fail('IDENTITY_ERROR', { ...didOf('gone'), detail: 'did_tombstoned' }),
  }
  s['pds-error'] = {
    description: "Image deadpds: the signer's PDS (from its verified log) answers 500.",
    env: env(subjectOf('deadpds')),
    stdin: stdin('deadpds', trusted('deadpds')),
    expect: fail('PDS_ERROR', didOf('deadpds')),
  }
  s['record-revoked'] = {
    description: "Image revoked: alice's io.atcr.manifest record is gone; the PDS proves its absence.",
    env: env(subjectOf('revoked')),
    stdin: stdin('revoked', trusted('alice')),
    expect: fail('RECORD_NOT_FOUND', didOf('revoked')),
  }
  s['signature-invalid'] = {
    description: "Image badsig: mallory's commit is signed by a key her log does not name.",
    env: env(subjectOf('badsig')),
    stdin: stdin('badsig', trusted('mallory')),
    expect: fail('SIGNATURE_INVALID', didOf('badsig')),
  }
  s['digest-mismatch'] = {
    description: "Image rewritten: alice's record under its rkey names the digest of image good.",
    env: env(subjectOf('rewritten')),
    stdin: stdin('rewritten', trusted('alice')),
    expect: fail('DIGEST_MISMATCH', didOf('rewritten')),
  }
  s['timeout'] = {
    description: 'Image stall: the PLC directory never answers; timeoutMs 800 must end the run with TIMEOUT.',
    env: env(subjectOf('stall')),
    stdin: stdin('stall', { ...trusted('stall'), timeoutMs: 800 }),
    expect: fail('TIMEOUT', didOf('stall')),
  }
  // images with two signature manifests: Ratify runs the plugin once per referrer, so each
  // signature is its own request, decided on its own
  s['success-multi-k256'] = {
    description: "Image multi, signed by alice and by bob: alice's signature manifest, trusted by trustedDIDs: verified.",
    env: env(subjectOf('multi')),
    stdin: stdin('multi', trusted('alice'), 'alice'),
    expect: ok('multi', 'trustedDIDs', 'alice'),
  }
  s['success-multi-p256'] = {
    description: "Image multi, signed by alice and by bob: bob's signature manifest, trusted by trustedDIDs: verified.",
    env: env(subjectOf('multi')),
    stdin: stdin('multi', trusted('bob'), 'bob'),
    expect: ok('multi', 'trustedDIDs', 'bob'),
  }
  s['multi-untrusted-cosigner'] = {
    description: "Image multi: bob's signature manifest is valid, but trustedDIDs lists only alice (the other signer).",
    env: env(subjectOf('multi')),
    stdin: stdin('multi', trusted('alice'), 'bob'),
    expect: fail('UNTRUSTED_SIGNER', didOf('multi', 'bob'), { messageContains: accounts.bob.did }),
  }
  s['success-multibad-good-half'] = {
    description: "Image multibad: alice's signature manifest verifies although mallory's, next to it, is bad.",
    env: env(subjectOf('multibad')),
    stdin: stdin('multibad', trusted('alice', 'mallory'), 'alice'),
    expect: ok('multibad', 'trustedDIDs', 'alice'),
  }
  s['multibad-signature-invalid'] = {
    description: "Image multibad: mallory's signature manifest; her commit is signed by a key her log does not name.",
    env: env(subjectOf('multibad')),
    stdin: stdin('multibad', trusted('alice', 'mallory'), 'mallory'),
    expect: fail('SIGNATURE_INVALID', didOf('multibad', 'mallory')),
  }
  // did:plc from its operation log: no directory can substitute a key, none can roll one back
  s['lying-directory-forged'] = {
    description:
      "Image victimforged: the directory's document for victim names forger's key and forger signed the commit; the verified log names victim's key, so the commit is refused.",
    env: env(subjectOf('victimforged')),
    stdin: stdin('victimforged', trusted('victim')),
    expect: fail('SIGNATURE_INVALID', didOf('victimforged')),
  }
  s['lying-directory-genuine'] = {
    description: "Image victimgood: victim's own commit verifies with the key her log proves, whatever the directory's document says.",
    env: env(subjectOf('victimgood')),
    stdin: stdin('victimgood', trusted('victim')),
    expect: ok('victimgood', 'trustedDIDs'),
  }
  s['success-rotated-key'] = {
    description: "Image rotornew: signed by rotor's key B, which the log rotated to from A: verified.",
    env: env(subjectOf('rotornew')),
    stdin: stdin('rotornew', trusted('rotor')),
    expect: ok('rotornew', 'trustedDIDs'),
  }
  s['rotated-out-key'] = {
    description: "Image rotorold: a newer commit signed by rotor's rotated-out key A is refused.",
    env: env(subjectOf('rotorold')),
    stdin: stdin('rotorold', trusted('rotor')),
    expect: fail('SIGNATURE_INVALID', didOf('rotorold')),
  }
  // the weaker mode (plcAuditLog: false): the directory's document is believed
  s['weak-mode-success-k256'] = {
    description: "plcAuditLog false: image good verifies with the key of the directory's document (the weaker mode).",
    env: env(subjectOf('good')),
    stdin: stdin('good', { ...trusted('alice'), plcAuditLog: false }),
    expect: ok('good', 'trustedDIDs'),
  }
  s['weak-mode-lying-directory'] = {
    description:
      "plcAuditLog false: the lying directory's document makes forger's commit pass for victim. This is why the mode is weaker; compare lying-directory-forged.",
    env: env(subjectOf('victimforged')),
    stdin: stdin('victimforged', { ...trusted('victim'), plcAuditLog: false }),
    expect: ok('victimforged', 'trustedDIDs'),
  }
  // protocol errors: exit 1 with {"code": N, "msg": ...}
  {
    const e = env(subjectOf('good'))
    delete e.RATIFY_VERIFIER_COMMAND
    s['missing-env'] = {
      description: 'RATIFY_VERIFIER_COMMAND is not set.',
      env: e,
      stdin: stdin('good', trusted('alice')),
      expect: { exitCode: 1, code: 4 },
    }
  }
  s['unknown-command'] = {
    description: 'RATIFY_VERIFIER_COMMAND is LIST, not VERIFY.',
    env: { ...env(subjectOf('good')), RATIFY_VERIFIER_COMMAND: 'LIST' },
    stdin: stdin('good', trusted('alice')),
    expect: { exitCode: 1, code: 3 },
  }
  s['bad-version'] = {
    description: 'RATIFY_VERIFIER_VERSION is 3.0.0, which the plugin does not support.',
    env: { ...env(subjectOf('good')), RATIFY_VERIFIER_VERSION: '3.0.0' },
    stdin: stdin('good', trusted('alice')),
    expect: { exitCode: 1, code: 6 },
  }
  s['stdin-not-json'] = {
    description: 'stdin is not JSON.',
    env: env(subjectOf('good')),
    stdinRaw: 'this is not a JSON request\n',
    expect: { exitCode: 1, code: 1 },
  }
  return s
}

function policies(accounts) {
  const a = accounts.alice.did
  const b = accounts.bob.did
  // scope: the plugin matches the image reference as given, 127.0.0.1:PORT/atv/app@sha256:... or :good
  return {
    'enforce.yaml': `# Trust policy used by success-policy-file (generated by testdata/tsgen/gen-ratify.mjs).
version: "1.0"
trustedDIDs:
  ${a}:
    name: "alice (atv fixture)"
    validFrom: "2025-01-01T00:00:00Z"
    expiresAt: "2100-01-01T00:00:00Z"
policies:
  - name: atv-app
    scope: "127.0.0.1:*/atv/app*"
    require:
      signature: true
      trustedDIDs: [${a}]
    action: enforce
`,
    'other-scope.yaml': `# Trust policy used by policy-denied: no scope matches the fixture registry.
version: "1.0"
policies:
  - name: acme-only
    scope: "atcr.io/acme/**"
    require:
      trustedDIDs: [${a}]
    action: enforce
`,
    'audit.yaml': `# Trust policy used by policy-audit: trusts only bob, but only audits.
version: "1.0"
policies:
  - name: atv-audit
    scope: "127.0.0.1:*/atv/app*"
    require:
      trustedDIDs: [${b}]
    action: audit
`,
  }
}

// ---------------------------------------------------------------------------------------------
// README
// ---------------------------------------------------------------------------------------------

function readme(fx, sampleDefs, checked) {
  const acctRows = Object.values(fx.accounts)
    .map(
      (a) =>
        `| ${a.name} | \`${a.did}\` | ${a.keyType} | ${a.plc === 'log' ? `log, PDS \`${a.pdsPlaceholder}\`` : a.plc === 'alias' ? `(${a.sameDid}'s DID)` : a.plc} | ${
          a.repo ? `rev \`${a.repo.rev}\`, ${a.repo.records} records` : '-'
        } |`,
    )
    .join('\n')
  const imgRows = Object.entries(fx.images)
    .map(([n, i]) => `| ${n} | \`${i.digest.slice(0, 19)}…\` | ${i.signers.join(', ')} | ${i.what} |`)
    .join('\n')
  const multiNames = Object.entries(fx.images)
    .filter(([, i]) => i.signatures.length > 1)
    .map(([n]) => n)
    .join(', ')
  const sampleRows = Object.entries(sampleDefs)
    .map(([n, s]) => {
      const e = s.expect
      const v = e.code !== undefined ? `exit 1, code ${e.code}` : e.isSuccess ? 'success' : e.reason
      return `| \`${n}.json\` | ${v} | ${s.description} |`
    })
    .join('\n')
  return `# Ratify plugin fixture (generated; TEST-ONLY keys)

**Do not edit these files by hand.** Everything in this directory, including this README, the
sample requests and the policy files, is written by \`testdata/tsgen/gen-ratify.mjs\` with the
official ATProto TypeScript libraries (\`@atproto/repo\`, \`@atproto/crypto\`, ...; exact versions in
\`testdata/tsgen/package-lock.json\`). \`sh testdata/tsgen/regen-check.sh\` regenerates it and checks
that the committed copy is byte-identical; to change it, edit the generator and run
\`node testdata/tsgen/gen-ratify.mjs testdata/ratify\`.

**The private keys are TEST ONLY.** They are sha256 of fixed public labels and are printed in
\`fixture/fixture.json\` (\`privateKeyHex_TEST_ONLY\`, \`rotationPrivateKeyHex_TEST_ONLY\`). Every DID is a
real did:plc, the hash of a genesis operation signed with \`@did-plc/lib\` by the account's rotation
key, registered nowhere but in this fixture; the handles are under \`.test\` (RFC 2606), so they
never resolve.

## did:plc operation logs

\`fixture/plc/DID.log.json\` is what \`GET /DID/log/audit\` serves, less one operation: each genesis
names the PDS \`${GENESIS_PDS}\` (it serves nothing), and \`integration/fixture/plc-log.js\` appends,
when a server starts, an operation that moves the PDS to the server's own URL (\`@PDS@\` or
\`@PDS500@\`), signed by the same rotation key with the same library. A port is known only then.
\`validateOperationLog\` of \`@did-plc/lib\` accepted every log, with such an operation appended.

- rotor's genesis names key A (\`${fx.accounts.rotorold.signingDidKey}\`); a second operation rotates
  to key B (\`${fx.accounts.rotor.signingDidKey}\`). rotorold is a repository of rotor's DID signed
  by A, at a later rev: the rotated-out key. When \`STATE/plc-rollback\` exists, the server serves
  every log as its genesis plus the PDS operation: a rollback to before the rotation.
- victim's log names her own key; the directory's document (\`GET /DID\`) names forger's key
  (\`${fx.accounts.victim.directoryDidKey}\`), and forger signed a repository for victim's DID: a
  lying directory, which only the weaker mode (\`plcAuditLog: false\`) believes.
- webby is a did:web; its document (\`fixture/web/DID.json\`) is served by nobody, so only offline
  bundles use it: offline, a did:web verifies only when the trust policy pins its key.
- gone's log ends in a tombstone (\`GET /DID\` answers 410). ghost and stall are real DIDs the
  directory does not serve (404, no answer).

## Serving it

\`integration/fixture/up.sh STATE\` starts Debian's docker-registry and
\`integration/fixture/atproto-server.js\` (a PLC directory and two PDSes) on 127.0.0.1, pushes
\`fixture/registry/\` in the order of \`fixture/registry/push.list\` (each image is also tagged with its
name), and writes \`STATE/env\`: \`REGISTRY\`, \`PLC\`, \`PDS\`, \`PDS500\`, \`FIXTURE\`.
\`integration/fixture/down.sh STATE\` stops both.

## Accounts

| name | DID | key | PLC directory | repository |
|---|---|---|---|---|
${acctRows}

mallory's repository is signed by key M1 (\`${fx.accounts.mallory.signingDidKey}\`); her log names
M2 (\`${fx.accounts.mallory.didKey}\`). Handles are \`NAME.atv.test\`.

## Files

| path | what |
|---|---|
| \`fixture/fixture.json\` | every DID, key, digest, size, CID and rev; \`images.NAME.signatures\` lists each signature (the top-level \`signature\`, \`record\`, \`commit\`, ... fields are the first one's) |
| \`fixture/registry/NAME.image.json\`, \`NAME.config.json\`, \`NAME.layer.tar\` | image manifest of repository \`${REPOSITORY}\`, its config and layer |
| \`fixture/registry/NAME.blob.json\` | the signature artifact (layer blob, \`${SIG_TYPE}\`) |
| \`fixture/registry/NAME.sig.json\` | the signature manifest (\`artifactType\` \`${SIG_TYPE}\`, subject = the image) |
| \`fixture/registry/NAME.SIGNER.blob.json\`, \`NAME.SIGNER.sig.json\` | the same, one pair per signer, for an image with several signatures (${multiNames}) |
| \`fixture/registry/NAME.index.json\` | the referrers tag-schema index, pushed as tag \`sha256-HEX\` of the image digest; lists every signature manifest of the image |
| \`fixture/registry/empty.json\` | the empty descriptor's blob \`{}\` |
| \`fixture/registry/push.list\` | \`blob FILE\` / \`manifest FILE MEDIATYPE REF\` lines, in push order |
| \`fixture/plc/DID.log.json\` | audit logs (\`GET /DID/log/audit\`), without the PDS operation the server appends |
| \`fixture/web/DID.json\` | webby's did:web document, with \`@PDS@\` |
| \`fixture/plc/DID.json\` | the directory's documents (\`GET /DID\`; the weaker mode reads them); \`serviceEndpoint\` is \`@PDS@\` or \`@PDS500@\`, substituted at serve time |
| \`fixture/pds/DID/${MANIFEST}/RKEY.car\` | \`com.atproto.sync.getRecord\` bodies (\`getRecords()\`); RKEY = the image digest's hex |
| \`policies/*.yaml\` | trust-policy files the samples name as \`@FIXTURE@/../policies/FILE\` |
| \`SCENARIO.json\` | sample Ratify requests (below) |

## Images (repository \`${REPOSITORY}\`)

Every artifact claims \`pdsEndpoint\` \`${CLAIMED_PDS}\` (the verified PDS is the fixture server's, so
claim and fact differ for all of them; otherpds also claims a wrong key).

| image | digest | signer | what |
|---|---|---|---|
${imgRows}

Every CAR was checked with the official \`verifyProofs()\`: present and verified with the signer's
log's key (${checked.present.join(', ')}), absent and verified
(${checked.absent.join(', ')}), refused with the key the log names and verified with the key that
signed the commit (${checked.refused.join(', ')}).

## Sample requests

Shape: \`{"description", "env", "stdin" | "stdinRaw", "expect"}\`. \`expect\` has \`exitCode\`; for a
verdict \`isSuccess\`, \`reason\` (failures), \`extensions\` (a subset: each key must be present with
exactly this value), \`absent\` (extension keys that must not be present), \`messageContains\`; for a
protocol error \`code\`. Placeholders in every string: \`@REGISTRY@\` (host:port), \`@PLC@\`, \`@PDS@\`,
\`@PDS500@\` (URLs), \`@FIXTURE@\` (absolute path of \`fixture/\`) from \`STATE/env\`, and \`@CACHE@\`
(a fresh empty directory per run).

| file | expected | scenario |
|---|---|---|
${sampleRows}
`
}

// ---------------------------------------------------------------------------------------------

async function main() {
  const outDir = process.argv[2]
  if (!outDir || process.argv.length > 3) {
    process.stderr.write('usage: node gen-ratify.mjs OUTDIR\n')
    process.exit(2)
  }
  ensureValidNsid(MANIFEST)
  ensureValidNsid(POST)
  ensureValidNsid(PROFILE)
  const fixDir = join(outDir, 'fixture')
  rmSync(fixDir, { recursive: true, force: true }) // no stale files survive a regeneration
  mkdirSync(fixDir, { recursive: true })

  const accounts = await makeAccounts()
  const claimedKey = (await keypairFor('otherpds claimed', 'k256')).keypair.did().slice('did:key:'.length)
  accounts.claimedKey = claimedKey

  // --- images ------------------------------------------------------------------------------
  const images = {}
  for (const def of IMAGES) images[def.name] = { def, ...(await makeImage(def.name)) }
  const rkeyOf = (name) => images[name].manifest.digest.slice('sha256:'.length)
  for (const n of Object.keys(images)) ensureValidRecordKey(rkeyOf(n))

  // --- repositories --------------------------------------------------------------------------
  const repos = {}
  const acctNames = Object.keys(ACCOUNTS)
  for (const [idx, name] of acctNames.entries()) {
    const acct = accounts[name]
    if (!acct.repo) continue
    const writes = []
    for (const def of IMAGES) {
      for (const sd of sigsOf(def)) {
        if (sd.signer !== name || (sd.record !== 'own' && sd.record !== 'other')) continue
        const digest = sd.record === 'own' ? images[def.name].manifest.digest : images[sd.otherImage].manifest.digest
        writes.push({ action: WriteOpAction.Create, collection: MANIFEST, rkey: rkeyOf(def.name), record: manifestRecord(digest) })
      }
    }
    const big = name === 'alice'
    writes.push(
      ...(await fillerWrites(name, big ? N_FILLER_MANIFESTS : N_SMALL_FILLERS, big ? N_FILLER_POSTS : 1)),
    )
    repos[name] = await buildRepo(acct, idx, writes)
  }

  // --- proofs (getRecord CARs), checked with the official verifyProofs -----------------------
  // proofs[file]: one per signature with a PDS step; checked: what verifyProofs said, for the README
  const proofs = {}
  const checked = { present: [], absent: [], refused: [] }
  for (const def of IMAGES) {
    for (const sd of sigsOf(def)) {
      if (sd.record === null) continue
      const acct = accounts[sd.signer]
      const r = repos[sd.signer]
      const rkey = rkeyOf(def.name)
      const key = `${MANIFEST}/${rkey}`
      const what = sd.label
      const car = await concatBytesAsync(getRecords(r.storage, r.repo.cid, [{ collection: MANIFEST, rkey }]))
      const parsed = await readCarWithRoot(car)
      assert(parsed.root.equals(r.repo.cid), `${what}: CAR root is the commit`)
      const recordCid = await r.mst.get(key)
      const path = await r.mst.cidsForPath(key)
      const docKey = acct.listed.keypair.did()
      const signKey = acct.signing.keypair.did()
      let record = null
      if (sd.record === 'absent') {
        assert(recordCid === null, `${what}: record absent`)
        const res = await officialVerify(car, acct.did, docKey, rkey, null)
        assert(res === 'verified', `${what}: official verifyProofs proves absence (got ${res})`)
        checked.absent.push(what)
      } else {
        assert(recordCid !== null, `${what}: record present`)
        const value = cbor.decode(parsed.blocks.get(recordCid))
        const want = sd.record === 'own' ? images[def.name].manifest.digest : images[sd.otherImage].manifest.digest
        assert(value.digest === want && value.$type === MANIFEST, `${what}: record digest`)
        assert((value.digest === images[def.name].manifest.digest) === (sd.record === 'own'), `${what}: digest relation`)
        const res = await officialVerify(car, acct.did, docKey, rkey, recordCid)
        if (docKey === signKey) {
          assert(res === 'verified', `${what}: official verifyProofs verifies (got ${res})`)
          checked.present.push(what)
        } else {
          assert(res !== 'verified', `${what}: official verifyProofs refuses the log's key (got ${res})`)
          const res2 = await officialVerify(car, acct.did, signKey, rkey, recordCid)
          assert(res2 === 'verified', `${what}: official verifyProofs verifies with the signing key (got ${res2})`)
          checked.refused.push(what)
        }
        record = { cid: recordCid.toString(), digest: value.digest }
      }
      proofs[sd.file] = { car, record, mstNodes: path.length - (recordCid ? 1 : 0), blocks: parsed.blocks.size }
      writeBytes(join(fixDir, 'pds', acct.did, MANIFEST, `${rkey}.car`), car)
    }
  }

  // the MST has depth: some proof of alice's crosses three nodes
  {
    const nodes = IMAGES.flatMap((d) => sigsOf(d))
      .filter((sd) => sd.signer === 'alice' && sd.record !== null)
      .map((sd) => proofs[sd.file].mstNodes)
    assert(Math.max(...nodes) >= 3, `alice's proof paths ${nodes}`)
  }

  // --- signature artifacts, manifests, indexes ----------------------------------------------
  const regDir = join(fixDir, 'registry')
  const empty = enc('{}')
  assert(`sha256:${await sha256Hex(empty)}` === EMPTY_DIGEST, 'empty descriptor digest')
  writeBytes(join(regDir, 'empty.json'), empty)
  const push = [`blob empty.json`]
  const fxImages = {}
  const seen = new Set() // every blob and signature manifest has bytes of its own
  for (const def of IMAGES) {
    const n = def.name
    const img = images[n]
    const sigs = []
    for (const sd of sigsOf(def)) {
      const acct = accounts[sd.signer]
      const r = repos[sd.signer]
      const commitCid = r
        ? r.repo.cid.toString()
        : (await cbor.cidForLex({ atvFixtureUnknownCommit: n })).toString() // a claim nobody can check
      const blob = await blobOf(enc(JSON.stringify(signatureBlob(img, sd, acct, images, accounts, commitCid))))
      const sigObj = {
        schemaVersion: 2,
        mediaType: OCI_MANIFEST,
        artifactType: SIG_TYPE,
        config: { mediaType: EMPTY_TYPE, digest: EMPTY_DIGEST, size: 2 },
        layers: [descriptor(SIG_TYPE, blob.bytes, blob.digest)],
        subject: descriptor(OCI_MANIFEST, img.manifest.bytes, img.manifest.digest),
        annotations: {
          'io.atcr.atproto.did': acct.did,
          'io.atcr.atproto.pds': sd.blob === 'claims' ? EVIL_PDS : CLAIMED_PDS,
          'io.atcr.atproto.recordUri': `at://${acct.did}/${MANIFEST}/${rkeyOf(n)}`,
        },
      }
      const sig = await blobOf(enc(JSON.stringify(sigObj)))
      for (const d of [blob.digest, sig.digest]) {
        assert(!seen.has(d), `${sd.label}: ${d} is unique`)
        seen.add(d)
      }
      sigs.push({ sd, acct, r, commitCid, blob, sig })
    }
    const index = await blobOf(
      enc(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: OCI_INDEX,
          manifests: sigs.map(({ acct, sig }) => ({
            ...descriptor(OCI_MANIFEST, sig.bytes, sig.digest),
            artifactType: SIG_TYPE,
            annotations: { 'io.atcr.atproto.did': acct.did },
          })),
        }),
      ),
    )
    writeBytes(join(regDir, `${n}.config.json`), img.config.bytes)
    writeBytes(join(regDir, `${n}.layer.tar`), img.layer.bytes)
    writeBytes(join(regDir, `${n}.image.json`), img.manifest.bytes)
    writeBytes(join(regDir, `${n}.index.json`), index.bytes)
    push.push(`blob ${n}.config.json`, `blob ${n}.layer.tar`)
    for (const { sd, blob, sig } of sigs) {
      writeBytes(join(regDir, `${sd.file}.blob.json`), blob.bytes)
      writeBytes(join(regDir, `${sd.file}.sig.json`), sig.bytes)
      push.push(`blob ${sd.file}.blob.json`)
    }
    const tagSchema = `sha256-${rkeyOf(n)}`
    push.push(`manifest ${n}.image.json ${OCI_MANIFEST} ${n}`)
    for (const { sd, sig } of sigs) push.push(`manifest ${sd.file}.sig.json ${OCI_MANIFEST} ${sig.digest}`)
    push.push(`manifest ${n}.index.json ${OCI_INDEX} ${tagSchema}`) // after its children (2.8 validates it)
    const fxSigs = sigs.map(({ sd, acct, r, commitCid, blob, sig }) => {
      const p = proofs[sd.file]
      return {
        signer: sd.signer,
        manifestDigest: sig.digest,
        manifestSize: sig.size,
        blobDigest: blob.digest,
        blobSize: blob.size,
        manifestFile: `registry/${sd.file}.sig.json`,
        blobFile: `registry/${sd.file}.blob.json`,
        recordUri: `at://${acct.did}/${MANIFEST}/${rkeyOf(n)}`,
        recordState: sd.record, // own | other | absent | null (no PDS step)
        record: p?.record ?? null,
        car: p ? `pds/${acct.did}/${MANIFEST}/${rkeyOf(n)}.car` : null,
        proofMstNodes: p?.mstNodes ?? null,
        commit: r ? { cid: r.repo.cid.toString(), rev: r.rev } : null,
        claimedCommitCid: commitCid,
      }
    })
    const first = fxSigs[0] // the top-level signature fields: the first signature's (the only one, mostly)
    fxImages[n] = {
      what: def.what,
      signer: first.signer,
      signers: fxSigs.map((s) => s.signer),
      tag: n,
      digest: img.manifest.digest,
      size: img.manifest.size,
      mediaType: OCI_MANIFEST,
      config: { digest: img.config.digest, size: img.config.size },
      layer: { digest: img.layer.digest, size: img.layer.size },
      signature: {
        manifestDigest: first.manifestDigest,
        manifestSize: first.manifestSize,
        blobDigest: first.blobDigest,
        blobSize: first.blobSize,
      },
      signatures: fxSigs,
      referrersIndex: { tag: tagSchema, digest: index.digest, size: index.size },
      rkey: rkeyOf(n),
      recordUri: first.recordUri,
      recordState: first.recordState,
      record: first.record,
      car: first.car,
      proofMstNodes: first.proofMstNodes,
      commit: first.commit,
      claimedCommitCid: first.claimedCommitCid,
    }
  }
  writeBytes(join(regDir, 'push.list'), push.join('\n') + '\n')

  // --- operation logs and DID documents ----------------------------------------------------
  const fxAccounts = {}
  for (const name of acctNames) {
    const a = accounts[name]
    const docDir = a.plc === 'web' ? 'web' : 'plc'
    if (a.doc) writeJsonPretty(join(fixDir, docDir, `${a.did}.json`), a.doc)
    if (a.log && a.logServed) writeJsonPretty(join(fixDir, 'plc', `${a.did}.log.json`), a.log)
    const r = repos[name]
    fxAccounts[name] = {
      name,
      did: a.did,
      handle: a.handle,
      curve: a.curve,
      keyType: CURVES[a.curve].keyType,
      plc: a.plc, // log | 404 | tombstone | stall | alias (what atproto-server.js does for the DID)
      ...(a.sameDid ? { sameDid: a.sameDid } : {}),
      pdsPlaceholder: a.pds ?? null,
      didKey: a.listed.keypair.did(), // the key the verified log names (the truth)
      directoryDidKey: a.plc === 'log' ? a.dirKey : null, // the key the directory's document names
      signingDidKey: a.signing.keypair.did(), // the key that signs the repository
      privateKeyHex_TEST_ONLY: a.signing.privHex,
      ...(a.docKey ? { listedPrivateKeyHex_TEST_ONLY: a.listed.privHex } : {}),
      rotationDidKey: a.rot?.didKey ?? null, // K-256, signs every operation of the log
      rotationPrivateKeyHex_TEST_ONLY: a.rot?.privHex ?? null,
      didDoc: a.doc ? `${docDir}/${a.did}.json` : null,
      didLog: a.log && a.logServed ? `plc/${a.did}.log.json` : null,
      repo: r
        ? { commitCid: r.repo.cid.toString(), rev: r.rev, data: r.repo.commit.data.toString(), records: r.nRecords }
        : null,
    }
  }

  const missingManifest = await blobOf(enc('atv fixture: a signature manifest nobody pushed'))
  const fx = {
    comment:
      'Generated by testdata/tsgen/gen-ratify.mjs with the official @atproto TypeScript libraries. ' +
      'Keys are TEST ONLY. See testdata/ratify/README.md.',
    repository: REPOSITORY,
    collection: MANIFEST,
    claimedPds: CLAIMED_PDS,
    claimedWrongKey: claimedKey,
    signedAt: SIGNED_AT,
    emptyBlob: { digest: EMPTY_DIGEST, size: 2 },
    missingManifest: { digest: missingManifest.digest, size: missingManifest.size },
    placeholders: PH,
    accounts: fxAccounts,
    images: fxImages,
  }
  writeJsonPretty(join(fixDir, 'fixture.json'), fx)

  // --- policies, samples, README ------------------------------------------------------------
  for (const [f, text] of Object.entries(policies(accounts))) writeBytes(join(outDir, 'policies', f), text)
  const sampleDefs = samples(fx, accounts)
  for (const [n, s] of Object.entries(sampleDefs)) writeJsonPretty(join(outDir, `${n}.json`), s)
  writeBytes(join(outDir, 'README.md'), readme(fx, sampleDefs, checked))

  process.stderr.write(
    `gen-ratify.mjs: ${Object.keys(fxImages).length} images, ${Object.keys(proofs).length} CARs agree with verifyProofs, ` +
      `${Object.keys(sampleDefs).length} samples; MST nodes on the paths: ${Object.entries(proofs).map(([n, p]) => `${n} ${p.mstNodes}`).join(', ')}\n`,
  )
}

main().catch((err) => {
  process.stderr.write(`gen-ratify.mjs: ${err?.stack ?? err}\n`)
  process.exit(1)
})
