#!/usr/bin/env node
// gen-stale.mjs -- two OLDER, validly signed commits of alice's repository, for the fault suite
// (integration/faults.bats), made with the official @atproto TypeScript libraries that
// testdata/tsgen installs (`sh testdata/tsgen/ensure-modules.sh`; nothing is installed here).
//
//   node integration/faults/gen-stale.mjs [OUTDIR]      (default: integration/faults/data)
//
// A PDS that misbehaves (or a stale mirror) can answer getRecord with an old commit instead of the
// account's current one. Both CARs below are what `getRecords()` returns for that old commit:
//
//   stale-oldkey.car   alice's repository at an older rev, signed by a key ("alice old") that is
//                      not her atproto key: no operation of her PLC log names it (checked below),
//                      nor does the directory's document. It stands for a key rotated out since
//                      (the fixture's rotor shows a real rotation in its log); whichever the
//                      history, only the key of her log's last operation counts. Proves image
//                      good's record. The plugin must refuse it: SIGNATURE_INVALID.
//   stale-deleted.car  alice's repository at an older rev, signed by her CURRENT key, when the
//                      record of image revoked still existed (it was deleted later: the fixture's
//                      current commit proves its absence). Without a relay or another source of the
//                      account's latest commit this is indistinguishable from a current commit, so
//                      the plugin accepts it: the documented limit (DESIGN.md, Later: "a relay
//                      check against stale commits").
//   stale.json         what the suite needs to know about them (revs, CIDs, keys).
//
// Both are checked with the official verifyProofs() before anything is written, and both revs are
// older than alice's current rev in testdata/ratify/fixture/fixture.json. Deterministic: keys are
// sha256 of fixed labels (TEST ONLY), revs are fixed TIDs, RFC 6979 signatures.

import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

const here = dirname(fileURLToPath(import.meta.url))
const root = resolve(here, '../..')
const tsgen = join(root, 'testdata/tsgen')
const req = createRequire(join(tsgen, 'package.json'))
const load = async (name) => {
  try {
    return await import(pathToFileURL(req.resolve(name)).href)
  } catch (e) {
    throw new Error(`${name} not found: run "sh testdata/tsgen/ensure-modules.sh" first (${e.message})`)
  }
}
const { MemoryBlockstore, Repo, MST, WriteOpAction, concatBytesAsync, getRecords, readCarWithRoot, verifyProofs } =
  await load('@atproto/repo')
const { Secp256k1Keypair, sha256 } = await load('@atproto/crypto')
const cbor = await load('@atproto/lex-cbor')
const { TID } = await load('@atproto/common-web')

const MANIFEST = 'io.atcr.manifest'
const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json'
const CREATED_AT = '2025-03-01T00:00:00.000Z'
const T0_US = Date.UTC(2025, 2, 1) * 1000
const K256_N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n

const hex = (b) => Buffer.from(b).toString('hex')
function assert(cond, msg) {
  if (!cond) throw new Error('assertion failed: ' + msg)
}

const manifestRecord = (digest) => ({
  $type: MANIFEST,
  repository: '127.0.0.1/atv/app',
  digest,
  mediaType: OCI_MANIFEST,
  schemaVersion: 2,
  createdAt: CREATED_AT,
})

async function verifyOne(car, did, didKey, rkey, cid) {
  try {
    const r = await verifyProofs(car, [{ collection: MANIFEST, rkey, cid }], did, didKey)
    if (r.verified.length === 1 && r.unverified.length === 0) return 'verified'
    return 'unverified'
  } catch (e) {
    return 'error: ' + String(e?.message ?? e)
  }
}

async function main() {
  const out = resolve(process.argv[2] ?? join(here, 'data'))
  const fx = JSON.parse(readFileSync(join(root, 'testdata/ratify/fixture/fixture.json'), 'utf8'))
  const alice = fx.accounts.alice
  const current = await Secp256k1Keypair.import(alice.privateKeyHex_TEST_ONLY)
  assert(current.did() === alice.didKey, 'fixture key matches alice\'s DID document key')
  // the keys alice's PLC log ever named (the PDS operation the servers append changes no key)
  const logKeys = JSON.parse(readFileSync(join(root, 'testdata/ratify/fixture', alice.didLog), 'utf8'))
    .map((e) => e.operation.verificationMethods?.atproto)
  assert(logKeys[logKeys.length - 1] === alice.didKey, 'alice\'s log ends with her current key')
  const oldHex = hex(await sha256(new TextEncoder().encode('atv faults alice old k256 key (TEST ONLY)')))
  assert(BigInt('0x' + oldHex) > 0n && BigInt('0x' + oldHex) < K256_N, 'old key is a scalar')
  const old = await Secp256k1Keypair.import(oldHex)
  assert(old.did() !== alice.didKey, 'the old key is not the current one')
  assert(!logKeys.includes(old.did()), 'no operation of alice\'s log names the old key')

  const rkeyOf = (name) => fx.images[name].digest.slice('sha256:'.length)
  // alice's records back then: every image of hers that has a record now, plus image revoked's
  // (deleted since), plus a profile
  const names = ['good', 'revoked', 'badartifact', 'wrongsubject', 'otherpds']
  const writes = names.map((n) => ({
    action: WriteOpAction.Create,
    collection: MANIFEST,
    rkey: rkeyOf(n),
    record: manifestRecord(fx.images[n].digest),
  }))
  writes.push({
    action: WriteOpAction.Create,
    collection: 'app.bsky.actor.profile',
    rkey: 'self',
    record: { $type: 'app.bsky.actor.profile', displayName: 'alice (atv fixture, before)' },
  })

  const cases = {
    oldkey: { key: old, keyHex: oldHex, minutes: 20, image: 'good', file: 'stale-oldkey.car' },
    deleted: { key: current, keyHex: null, minutes: 40, image: 'revoked', file: 'stale-deleted.car' },
  }
  const meta = {
    comment:
      'Generated by integration/faults/gen-stale.mjs with the official @atproto libraries. Keys are TEST ONLY.',
    did: alice.did,
    currentRev: alice.repo.rev,
    currentKey: alice.didKey,
  }
  mkdirSync(out, { recursive: true })
  for (const [name, c] of Object.entries(cases)) {
    const rev = TID.fromTime(T0_US + c.minutes * 60 * 1e6, 0).toString()
    assert(rev < alice.repo.rev, `${name}: rev ${rev} is older than the current ${alice.repo.rev}`)
    const storage = new MemoryBlockstore()
    const commit = await Repo.formatInitCommit(storage, alice.did, c.key, writes, rev)
    const repo = await Repo.createFromCommit(storage, commit)
    assert(repo.commit.rev === rev, `${name}: rev`)
    const rkey = rkeyOf(c.image)
    const car = await concatBytesAsync(getRecords(storage, repo.cid, [{ collection: MANIFEST, rkey }]))
    const parsed = await readCarWithRoot(car)
    assert(parsed.root.equals(repo.cid), `${name}: CAR root is the commit`)
    const mst = MST.load(storage, repo.commit.data)
    const recordCid = await mst.get(`${MANIFEST}/${rkey}`)
    assert(recordCid !== null, `${name}: the record is present at this rev`)
    const value = cbor.decode(parsed.blocks.get(recordCid))
    assert(value.digest === fx.images[c.image].digest, `${name}: record digest`)
    const withCurrent = await verifyOne(car, alice.did, alice.didKey, rkey, recordCid)
    if (c.key === current) {
      assert(withCurrent === 'verified', `${name}: verifies with the current key (${withCurrent})`)
    } else {
      assert(withCurrent !== 'verified', `${name}: refused with the current key (${withCurrent})`)
      const withOld = await verifyOne(car, alice.did, old.did(), rkey, recordCid)
      assert(withOld === 'verified', `${name}: verifies with the old key (${withOld})`)
    }
    writeFileSync(join(out, c.file), car)
    meta[name] = {
      file: c.file,
      image: c.image,
      rkey,
      rev,
      commitCid: repo.cid.toString(),
      recordCid: recordCid.toString(),
      signingKey: c.key.did(),
      ...(c.keyHex ? { privateKeyHex_TEST_ONLY: c.keyHex } : {}),
      officialVerifyWithCurrentKey: withCurrent === 'verified' ? 'verified' : 'refused',
    }
  }
  writeFileSync(join(out, 'stale.json'), JSON.stringify(meta, null, 2) + '\n')
  process.stdout.write(`gen-stale: wrote ${out}/{stale-oldkey.car,stale-deleted.car,stale.json}\n`)
}

main().catch((e) => {
  process.stderr.write(`gen-stale: ${e.stack || e}\n`)
  process.exit(1)
})
