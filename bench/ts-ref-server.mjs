#!/usr/bin/env node
// ts-ref-server.mjs -- the TypeScript reference of the server benchmark (bench/serve.mjs): a
// Gatekeeper external-data provider on the official ATProto libraries, doing the work
// `atcr-verify serve` does for POST /gatekeeper/verify, the way a Node service would:
//
//   - Node's https server, TLS 1.3, keep-alive (the default), 1 MiB body cap;
//   - the ProviderRequest checked (apiVersion, kind, request.keys: at most 1024 strings);
//   - per key HOST/REPO@sha256:DIGEST: a verdict cache by digest (no expiry: the benchmark
//     measures the hit path), concurrent misses for one digest share one verification;
//   - a miss: the referrers of the digest from the registry (the API, or the tag schema
//     sha256-HEX when it answers 404), then each signature manifest through verify() of
//     bench/ts-ref-verify.mjs (manifest and blob digests, the artifact, trust, the DID
//     document from the PLC with a file cache, getRecord from the PDS and verifyRecords()
//     of @atproto/repo) until one verifies;
//   - the ProviderResponse: one item per key, a transient failure in systemError only.
//
//   node bench/ts-ref-server.mjs --cert FILE --key FILE --plc URL --trusted-did DID...
//                                [--port P] [--cache-dir DIR]
//
// Prints "listening on PORT" once ready; runs until SIGTERM. The registry is spoken to over
// plain http (the loopback fixture). Never for production.

import { readFileSync } from 'node:fs'
import { createServer } from 'node:https'
import { Fail, verify } from './ts-ref-verify.mjs'

const MAX_BODY = 1 << 20
const MAX_KEYS = 1024
const SIG_TYPE = 'application/vnd.atproto.signature.v1+json'
const INDEX_TYPE = 'application/vnd.oci.image.index.v1+json'
const TRANSIENT = new Set(['REGISTRY_ERROR', 'IDENTITY_ERROR', 'PDS_ERROR', 'TIMEOUT', 'INTERNAL'])
const TIMEOUT_MS = 2500

function parseArgs(argv) {
  const a = { port: 0, cert: null, key: null, plc: null, trusted: [], cacheDir: null }
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i]
    const v = argv[++i]
    if (v === undefined) throw new Error(`${k} needs a value`)
    if (k === '--port') a.port = Number(v)
    else if (k === '--cert') a.cert = v
    else if (k === '--key') a.key = v
    else if (k === '--plc') a.plc = v
    else if (k === '--trusted-did') a.trusted.push(v)
    else if (k === '--cache-dir') a.cacheDir = v
    else throw new Error(`unknown option ${k}`)
  }
  if (!a.cert || !a.key || !a.plc || a.trusted.length === 0) {
    throw new Error('usage: ts-ref-server.mjs --cert F --key F --plc URL --trusted-did DID... [--port P] [--cache-dir D]')
  }
  return a
}

const opts = parseArgs(process.argv.slice(2))
const verdicts = new Map() // digest -> item value (definite verdicts only)
const pending = new Map() // digest -> Promise of { value } or { transient }

async function getJson(url, accept) {
  const res = await fetch(url, { headers: { Accept: accept }, signal: AbortSignal.timeout(TIMEOUT_MS) })
  if (res.status === 404) return null
  if (res.status !== 200) throw new Fail('REGISTRY_ERROR', `GET ${url}: HTTP ${res.status}`)
  return res.json()
}

// The signature manifests that name DIGEST as their subject.
async function signatures(host, repo, digest) {
  const base = `http://${host}/v2/${repo}`
  let index = await getJson(`${base}/referrers/${digest}`, INDEX_TYPE)
  if (index === null) index = await getJson(`${base}/manifests/sha256-${digest.slice(7)}`, INDEX_TYPE)
  return (index?.manifests ?? []).filter((m) => m.artifactType === SIG_TYPE)
}

async function verifyImage(key, host, repo, digest) {
  let sigs
  try {
    sigs = await signatures(host, repo, digest)
  } catch (e) {
    return { transient: `${key}: ${e.message}` }
  }
  const base = { allowed: false, verified: false, audit: false, reference: key, digest }
  if (sigs.length === 0) return { value: { ...base, reason: 'NO_SIGNATURE', message: 'no ATProto signature' } }
  let last = null
  for (const s of sigs) {
    const request = {
      config: { trustedDIDs: opts.trusted, plcDirectory: opts.plc, cacheDir: opts.cacheDir, timeoutMs: TIMEOUT_MS },
      storeConfig: { store: { useHttp: true } },
      referenceDesc: { digest: s.digest },
    }
    try {
      const ext = await verify({ RATIFY_VERIFIER_SUBJECT: `${host}/${repo}@${digest}` }, request)
      return { value: { ...base, allowed: true, verified: true, signers: [{ did: ext.did }], message: `signed by ${ext.did}` } }
    } catch (e) {
      last = e
    }
  }
  const reason = last instanceof Fail ? last.reason : 'INTERNAL'
  if (TRANSIENT.has(reason)) return { transient: `${key}: ${last.message}` }
  return { value: { ...base, reason, message: String(last.message) } }
}

async function item(key) {
  const m = typeof key === 'string' ? /^([^/]+)\/(.+)@(sha256:[0-9a-f]{64})$/.exec(key) : null
  if (!m) return { item: { key, error: 'not an image reference pinned by digest' } }
  const [, host, repo, digest] = m
  const hit = verdicts.get(digest)
  if (hit !== undefined) return { item: { key, value: { ...hit, reference: key } } }
  let p = pending.get(digest)
  if (p === undefined) {
    p = verifyImage(key, host, repo, digest).finally(() => pending.delete(digest))
    pending.set(digest, p)
  }
  const r = await p
  if (r.transient !== undefined) return { transient: r.transient }
  verdicts.set(digest, r.value)
  return { item: { key, value: { ...r.value, reference: key } } }
}

function answer(res, code, obj) {
  const body = JSON.stringify(obj)
  res.writeHead(code, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) })
  res.end(body)
}

function envelope(items, systemError) {
  const response = { idempotent: true, items }
  if (systemError) response.systemError = systemError
  return { apiVersion: 'externaldata.gatekeeper.sh/v1beta1', kind: 'ProviderResponse', response }
}

async function onRequest(req, res) {
  if (req.method !== 'POST' || req.url !== '/gatekeeper/verify') return answer(res, 404, { error: 'not found' })
  const chunks = []
  let size = 0
  for await (const c of req) {
    size += c.length
    if (size > MAX_BODY) return answer(res, 413, { error: 'body too large' })
    chunks.push(c)
  }
  let keys
  try {
    const body = JSON.parse(Buffer.concat(chunks).toString('utf8'))
    keys = body?.request?.keys
    if (body?.kind !== 'ProviderRequest' || !/^externaldata\.gatekeeper\.sh\/v1(alpha1|beta1)$/.test(body?.apiVersion ?? '') ||
        !Array.isArray(keys) || keys.length > MAX_KEYS) throw new Error('not a ProviderRequest')
  } catch (e) {
    return answer(res, 200, envelope([], `bad request: ${e.message}`))
  }
  const results = await Promise.all(keys.map(item))
  const transient = results.filter((r) => r.transient !== undefined).map((r) => r.transient)
  answer(res, 200, envelope(results.filter((r) => r.item !== undefined).map((r) => r.item), transient.join('; ')))
}

const server = createServer(
  { cert: readFileSync(opts.cert), key: readFileSync(opts.key), minVersion: 'TLSv1.3', keepAliveTimeout: 120000 },
  (req, res) => {
    onRequest(req, res).catch((e) => answer(res, 500, { error: String(e.message) }))
  },
)
server.listen(opts.port, '127.0.0.1', () => {
  process.stdout.write(`listening on ${server.address().port}\n`)
})
process.on('SIGTERM', () => {
  server.close()
  server.closeAllConnections()
})
