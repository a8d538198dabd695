#!/usr/bin/env node
// ts-ref-verify.mjs -- the TypeScript reference for the plugin benchmark: the same checks as the
// C plugin (build/atproto), built on the official ATProto TypeScript libraries and Node's fetch,
// run the same way (a Ratify v1 verifier plugin: RATIFY_VERIFIER_* in the environment, the
// request on stdin, one JSON verdict line on stdout, exit 0).
//
// What it does, in the order of DESIGN.md "The chain of trust":
//   1. subject digest D from RATIFY_VERIFIER_SUBJECT (host/repo@sha256:...);
//   2. GET the signature manifest (referenceDesc.digest) from the registry (http when
//      storeConfig.store.useHttp), sha256 of its bytes == referenceDesc.digest, subject.digest == D;
//   3. GET its application/vnd.atproto.signature.v1+json layer, sha256 == the layer digest;
//      parse the artifact: $type, version 1.0, subject.digest == D, atproto.did, recordUri
//      at://DID/COLLECTION/RKEY with the same DID;
//   4. trust: the DID is in config.trustedDIDs;
//   5. DID document from config.cacheDir when fresh (300 s, as the plugin's default TTL), else
//      GET {plcDirectory}/{did}, id == DID, stored in the cache (temporary file + rename);
//      signing key = getSigningDidKey, PDS = getPdsEndpoint (@atproto/common-web);
//   6. GET {PDS}/xrpc/com.atproto.sync.getRecord?did&collection&rkey, then verifyRecords()
//      from @atproto/repo (CAR parse with CID checks, commit DID, signature with
//      @atproto/crypto, MST walk); the record must be there, $type == COLLECTION, digest == D.
// Handle verification is off in the benchmark's requests (verifyHandle false), so it is not
// implemented here. Anything else in the request is ignored.
//
//   RATIFY_VERIFIER_SUBJECT=... node bench/ts-ref-verify.mjs < request.json
//
// bench/ts-ref-server.mjs imports verify() (and Fail) for the server benchmark's reference;
// main() runs only when this file is the program.

import { createHash } from 'node:crypto'
import { mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { createRequire } from 'node:module'
import { fileURLToPath, pathToFileURL } from 'node:url'

const tsgen = fileURLToPath(new URL('../testdata/tsgen/', import.meta.url))
const req = createRequire(join(tsgen, 'package.json'))
const load = (name) => import(pathToFileURL(req.resolve(name)).href)
const [{ verifyRecords }, { getSigningDidKey, getPdsEndpoint }] = await Promise.all([
  load('@atproto/repo'),
  load('@atproto/common-web'),
])

const SIG_TYPE = 'application/vnd.atproto.signature.v1+json'
const MANIFEST_TYPES = 'application/vnd.oci.image.manifest.v1+json'
const DID_CACHE_TTL_MS = 300 * 1000
const DEFAULT_TIMEOUT_MS = 2500

export class Fail extends Error {
  constructor(reason, msg) {
    super(msg)
    this.reason = reason
  }
}

const sha256 = (b) => 'sha256:' + createHash('sha256').update(b).digest('hex')

async function get(url, accept, deadline, reason) {
  let res
  try {
    res = await fetch(url, { headers: { Accept: accept }, signal: deadline })
  } catch (e) {
    throw new Fail(deadline.aborted ? 'TIMEOUT' : reason, `GET ${url}: ${e.message}`)
  }
  if (res.status !== 200) throw new Fail(reason, `GET ${url}: HTTP ${res.status}`)
  return new Uint8Array(await res.arrayBuffer())
}

function cachedDoc(dir, did) {
  if (!dir) return { path: null, doc: null }
  const path = join(dir, 'ts-ref-' + createHash('sha256').update(did).digest('hex') + '.json')
  try {
    if (Date.now() - statSync(path).mtimeMs < DID_CACHE_TTL_MS) return { path, doc: JSON.parse(readFileSync(path, 'utf8')) }
  } catch {
    // a miss
  }
  return { path, doc: null }
}

export async function verify(env, request) {
  const config = request.config ?? {}
  const store = request.storeConfig?.store ?? {}
  const deadline = AbortSignal.timeout(config.timeoutMs ?? DEFAULT_TIMEOUT_MS)
  const m = /^([^/]+)\/(.+)@(sha256:[0-9a-f]{64})$/.exec(env.RATIFY_VERIFIER_SUBJECT ?? '')
  if (!m) throw new Fail('BAD_REQUEST', 'RATIFY_VERIFIER_SUBJECT: want HOST/REPO@sha256:HEX')
  const [, host, repo, subject] = m
  const base = `${store.useHttp ? 'http' : 'https'}://${host}/v2/${repo}`
  const sigDigest = request.referenceDesc?.digest

  // 2. the signature manifest
  const manBytes = await get(`${base}/manifests/${sigDigest}`, MANIFEST_TYPES, deadline, 'REGISTRY_ERROR')
  if (sha256(manBytes) !== sigDigest) throw new Fail('REGISTRY_ERROR', 'signature manifest digest mismatch')
  const man = JSON.parse(Buffer.from(manBytes).toString('utf8'))
  if (man.subject?.digest !== subject) throw new Fail('SUBJECT_MISMATCH', 'manifest subject is not the image')
  const layer = (man.layers ?? []).find((l) => l.mediaType === SIG_TYPE)
  if (!layer) throw new Fail('BAD_SIGNATURE_ARTIFACT', 'no signature layer')

  // 3. the signature blob and the artifact
  const blob = await get(`${base}/blobs/${layer.digest}`, '*/*', deadline, 'REGISTRY_ERROR')
  if (sha256(blob) !== layer.digest) throw new Fail('REGISTRY_ERROR', 'signature blob digest mismatch')
  const art = JSON.parse(Buffer.from(blob).toString('utf8'))
  if (art.$type !== 'io.atcr.atproto.signature' || art.version !== '1.0') {
    throw new Fail('BAD_SIGNATURE_ARTIFACT', 'artifact $type or version')
  }
  if (art.subject?.digest !== subject) throw new Fail('SUBJECT_MISMATCH', 'artifact subject is not the image')
  const did = art.atproto?.did
  const u = /^at:\/\/(did:[a-z]+:[a-zA-Z0-9._:%-]+)\/([a-zA-Z0-9.-]+)\/([a-zA-Z0-9._:~-]+)$/.exec(art.atproto?.recordUri ?? '')
  if (!u || u[1] !== did) throw new Fail('BAD_SIGNATURE_ARTIFACT', 'recordUri')
  const [, , collection, rkey] = u

  // 4. trust, before any identity traffic
  if (!(config.trustedDIDs ?? []).includes(did)) throw new Fail('UNTRUSTED_SIGNER', `${did} is not trusted`)

  // 5. the DID document
  const cache = cachedDoc(config.cacheDir, did)
  let doc = cache.doc
  if (doc === null) {
    if (!did.startsWith('did:plc:')) throw new Fail('IDENTITY_ERROR', 'only did:plc here')
    const bytes = await get(`${config.plcDirectory}/${did}`, 'application/json', deadline, 'IDENTITY_ERROR')
    doc = JSON.parse(Buffer.from(bytes).toString('utf8'))
    if (doc.id !== did) throw new Fail('IDENTITY_ERROR', 'DID document id')
    if (cache.path !== null) {
      mkdirSync(config.cacheDir, { recursive: true, mode: 0o700 })
      const tmp = `${cache.path}.${process.pid}.tmp`
      writeFileSync(tmp, bytes, { mode: 0o600 })
      renameSync(tmp, cache.path)
    }
  }
  const didKey = getSigningDidKey(doc)
  const pds = getPdsEndpoint(doc)
  if (!didKey || !pds) throw new Fail('IDENTITY_ERROR', 'no #atproto key or PDS')

  // 6. the proof
  const q = new URLSearchParams({ did, collection, rkey })
  const car = await get(`${pds}/xrpc/com.atproto.sync.getRecord?${q}`, 'application/vnd.ipld.car', deadline, 'PDS_ERROR')
  let records
  try {
    records = await verifyRecords(car, did, didKey)
  } catch (e) {
    throw new Fail('SIGNATURE_INVALID', e.message)
  }
  const rec = records.find((r) => r.collection === collection && r.rkey === rkey)
  if (!rec) throw new Fail('RECORD_NOT_FOUND', `${collection}/${rkey} is not in the proof`)
  if (rec.record.$type !== collection || rec.record.digest !== subject) throw new Fail('DIGEST_MISMATCH', 'record digest')
  return { did, pds, recordUri: art.atproto.recordUri, subjectDigest: subject, signatureDigest: layer.digest }
}

async function main() {
  const chunks = []
  for await (const c of process.stdin) chunks.push(c)
  let request
  try {
    request = JSON.parse(Buffer.concat(chunks).toString('utf8'))
  } catch (e) {
    process.stdout.write(JSON.stringify({ isSuccess: false, message: `stdin: ${e.message}` }) + '\n')
    return
  }
  const name = request.config?.name ?? 'ts-ref'
  const type = request.config?.type ?? 'atproto'
  let out
  try {
    const ext = await verify(process.env, request)
    out = { isSuccess: true, name, type, message: `ATProto signature verified: ${ext.subjectDigest} signed by ${ext.did}`, extensions: ext }
  } catch (e) {
    const reason = e instanceof Fail ? e.reason : 'INTERNAL'
    out = { isSuccess: false, name, type, message: String(e.message), extensions: { reason } }
  }
  process.stdout.write(JSON.stringify(out) + '\n')
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) await main()
