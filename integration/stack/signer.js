'use strict';
// signer.js: plays ATCR's AppView against the real stack of up.sh. It pushes
// images to the registry, writes io.atcr.manifest records to the pusher's
// repository on the real PDS (which signs the commit with the account's key)
// and pushes the signature artifact of DESIGN.md as an OCI 1.1 referrer (tag
// schema: the registry, distribution 2.8, has no referrers API).
//
//   node signer.js STATE create-account NAME
//        account NAME.test on the PDS; STATE/accounts/NAME.json {did, handle, password}
//   node signer.js STATE push-image NAME TAG
//        a small distinct OCI image as atv/e2e:TAG; prints its digest
//   node signer.js STATE sign NAME DIGEST
//        record rkey=HEX(DIGEST) via putRecord, then the artifact; prints
//        "SIG_DIGEST SIG_SIZE" of the signature manifest
//   node signer.js STATE sign-claiming NAME DIGEST (--did OTHER_DID | --pds URL | --record-of OTHER_NAME)
//        as sign, but the artifact lies: --did names another DID (did, recordUri,
//        keyId and annotations, consistently; the record still goes to NAME's repo),
//        --pds claims another PDS, --record-of writes no record and points the
//        artifact (NAME's did, handle and key) at OTHER_NAME's record for DIGEST
//   node signer.js STATE delete-record NAME DIGEST
//   node signer.js STATE rewrite-record NAME DIGEST OTHER_DIGEST   (same rkey, other digest)
//   node signer.js STATE push-unsigned NAME TAG
//        an image and an artifact for NAME whose record was never written;
//        prints "IMAGE_DIGEST SIG_DIGEST SIG_SIZE"
// Every artifact pushed is also described in STATE/artifacts/HEX.json (HEX of
// the signature manifest digest): subject, sizes, blob digest, claims.
//
// STATE/env gives REGISTRY, PLC and PDS. Runs on Node 22 (the cache's) with
// plain fetch; no npm dependencies. Every request has a deadline
// (REQUEST_TIMEOUT_MS). Exit 0 on success, 1 on any failure (message on
// stderr), 2 on bad usage.
const fs = require('fs');
const path = require('path');
const crypto = require('crypto');

const REQUEST_TIMEOUT_MS = 10000;
const REPO = 'atv/e2e';
const COLLECTION = 'io.atcr.manifest';
const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
const OCI_CONFIG = 'application/vnd.oci.image.config.v1+json';
const OCI_LAYER = 'application/vnd.oci.image.layer.v1.tar';
const OCI_EMPTY = 'application/vnd.oci.empty.v1+json';
const SIG_TYPE = 'application/vnd.atproto.signature.v1+json';
const EMPTY_BLOB = Buffer.from('{}');
const EMPTY_DIGEST = 'sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a';

class Fail extends Error {}
const fail = (msg) => { throw new Fail(msg); };

function readEnv(state) {
    const env = {};
    for (const line of fs.readFileSync(path.join(state, 'env'), 'utf8').split('\n')) {
        const eq = line.indexOf('=');
        if (eq > 0) env[line.slice(0, eq)] = line.slice(eq + 1);
    }
    for (const k of ['REGISTRY', 'PLC', 'PDS']) if (!env[k]) fail(state + '/env has no ' + k);
    env.STATE = state;
    return env;
}

const sha256 = (buf) => 'sha256:' + crypto.createHash('sha256').update(buf).digest('hex');
const hexOf = (digest) => {
    if (!/^sha256:[0-9a-f]{64}$/.test(digest)) fail('not a sha256 digest: ' + digest);
    return digest.slice(7);
};

async function http(method, url, { headers = {}, body, okStatus = [200] } = {}) {
    let res;
    try {
        res = await fetch(url, { method, headers, body, redirect: 'manual',
            signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
    } catch (e) {
        fail(method + ' ' + url + ': ' + (e.cause ? e.cause.message || e.cause.code : e.message));
    }
    const buf = Buffer.from(await res.arrayBuffer());
    if (!okStatus.includes(res.status)) {
        fail(method + ' ' + url + ': HTTP ' + res.status + ' ' + buf.toString('utf8').slice(0, 500));
    }
    return { status: res.status, headers: res.headers, body: buf };
}

// ---- registry (distribution spec, anonymous) ------------------------------------

class Registry {
    constructor(hostport) { this.base = 'http://' + hostport + '/v2/' + REPO; this.origin = 'http://' + hostport; }

    // POST /blobs/uploads/ then PUT <Location>&digest= (monolithic upload)
    async pushBlob(buf) {
        const digest = sha256(buf);
        const head = await http('HEAD', this.base + '/blobs/' + digest, { okStatus: [200, 404] });
        if (head.status === 200) return { digest, size: buf.length };
        const post = await http('POST', this.base + '/blobs/uploads/', { okStatus: [202] });
        let loc = post.headers.get('location');
        if (!loc) fail('blob upload: no Location');
        if (!/^https?:/.test(loc)) loc = this.origin + loc;
        const put = loc + (loc.includes('?') ? '&' : '?') + 'digest=' + encodeURIComponent(digest);
        await http('PUT', put, { headers: { 'Content-Type': 'application/octet-stream' }, body: buf, okStatus: [201] });
        return { digest, size: buf.length };
    }

    async putManifest(ref, mediaType, buf) {
        const r = await http('PUT', this.base + '/manifests/' + ref,
            { headers: { 'Content-Type': mediaType }, body: buf, okStatus: [201] });
        const want = sha256(buf);
        const got = r.headers.get('docker-content-digest');
        if (got !== want) fail('manifest PUT ' + ref + ': registry says ' + got + ', bytes are ' + want);
        return { digest: want, size: buf.length };
    }

    // null when absent; 2.8 wants the exact media type in Accept
    async getManifest(ref, mediaType) {
        const r = await http('GET', this.base + '/manifests/' + ref,
            { headers: { Accept: mediaType }, okStatus: [200, 404] });
        return r.status === 200 ? r.body : null;
    }
}

// ---- PDS (XRPC) and PLC ---------------------------------------------------------

// The PDS's DID-document URL is http://localhost:PORT; talk to it on 127.0.0.1
// directly so that a resolver preferring ::1 cannot get in the way.
const pdsLocal = (env) => env.PDS.replace(/^http:\/\/localhost:/, 'http://127.0.0.1:');

async function xrpc(env, method, nsid, { token, body, query } = {}) {
    const url = new URL(pdsLocal(env) + '/xrpc/' + nsid);
    for (const [k, v] of Object.entries(query || {})) url.searchParams.set(k, v);
    const headers = {};
    if (token) headers.Authorization = 'Bearer ' + token;
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    const r = await http(method, url.href, { headers, body: body === undefined ? undefined : JSON.stringify(body) });
    return r.body.length ? JSON.parse(r.body.toString('utf8')) : {};
}

function accountFile(state, name) {
    if (!/^[a-z][a-z0-9-]{0,30}$/.test(name)) fail('account name must be [a-z][a-z0-9-]*: ' + name);
    return path.join(state, 'accounts', name + '.json');
}

function loadAccount(state, name) {
    const f = accountFile(state, name);
    if (!fs.existsSync(f)) fail('no account ' + name + ' (' + f + '); run create-account first');
    return JSON.parse(fs.readFileSync(f, 'utf8'));
}

// a fresh session per command: no token outlives its command
async function session(env, acct) {
    const s = await xrpc(env, 'POST', 'com.atproto.server.createSession',
        { body: { identifier: acct.handle, password: acct.password } });
    if (s.did !== acct.did) fail('session for ' + acct.handle + ' is ' + s.did + ', want ' + acct.did);
    return s.accessJwt;
}

async function plcDoc(env, did) {
    const r = await http('GET', env.PLC + '/' + encodeURIComponent(did));
    return JSON.parse(r.body.toString('utf8'));
}

async function signingKey(env, did) {
    const doc = await plcDoc(env, did);
    const vm = (doc.verificationMethod || []).find((m) => m.id === '#atproto' || m.id === did + '#atproto');
    if (!vm || !vm.publicKeyMultibase) fail('DID document of ' + did + ' has no #atproto key');
    return vm.publicKeyMultibase;
}

async function putRecord(env, acct, token, rkeyDigest, recordDigest) {
    return xrpc(env, 'POST', 'com.atproto.repo.putRecord', {
        token,
        body: {
            repo: acct.did, collection: COLLECTION, rkey: hexOf(rkeyDigest),
            record: { $type: COLLECTION, repository: REPO, digest: recordDigest, mediaType: OCI_MANIFEST,
                schemaVersion: 2, createdAt: new Date().toISOString() },
        },
    });
}

// ---- commands --------------------------------------------------------------------

async function createAccount(state, env, name) {
    const f = accountFile(state, name);
    if (fs.existsSync(f)) fail('account ' + name + ' exists already (' + f + ')');
    const handle = name + '.test';
    const password = crypto.randomBytes(18).toString('base64url');
    const r = await xrpc(env, 'POST', 'com.atproto.server.createAccount',
        { body: { handle, email: name + '@atv.test', password } });
    if (!/^did:plc:[a-z2-7]{24}$/.test(r.did || '')) fail('createAccount gave DID ' + r.did);
    fs.mkdirSync(path.dirname(f), { recursive: true });
    fs.writeFileSync(f, JSON.stringify({ did: r.did, handle: r.handle, password }, null, 2) + '\n', { mode: 0o600 });
    process.stdout.write(r.did + '\n');
}

async function pushImage(env, name, tag) {
    if (!/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/.test(tag)) fail('bad tag ' + tag);
    const reg = new Registry(env.REGISTRY);
    // distinct content per push: name, tag and a nonce
    const layer = await reg.pushBlob(Buffer.from('atv e2e layer of ' + name + ':' + tag + ' '
        + crypto.randomBytes(8).toString('hex') + '\n'));
    const config = await reg.pushBlob(Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux',
        rootfs: { type: 'layers', diff_ids: [layer.digest] } })));
    const manifest = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST,
        config: { mediaType: OCI_CONFIG, digest: config.digest, size: config.size },
        layers: [{ mediaType: OCI_LAYER, digest: layer.digest, size: layer.size }] }));
    const m = await reg.putManifest(tag, OCI_MANIFEST, manifest);
    return m.digest;
}

// The signature artifact of DESIGN.md for the image DIGEST, listed in the
// referrers tag-schema index sha256-HEX (re-PUT with every earlier referrer).
async function pushArtifact(env, digest, claims) {
    const reg = new Registry(env.REGISTRY);
    const image = await reg.getManifest(digest, OCI_MANIFEST);
    if (image === null) fail('image ' + digest + ' is not in ' + env.REGISTRY + '/' + REPO);
    const blob = Buffer.from(JSON.stringify({
        $type: 'io.atcr.atproto.signature', version: '1.0',
        subject: { digest, mediaType: OCI_MANIFEST },
        atproto: { did: claims.did, handle: claims.handle, pdsEndpoint: claims.pds, recordUri: claims.recordUri,
            commitCid: claims.commitCid, signedAt: new Date().toISOString() },
        signature: { algorithm: 'ECDSA-K256-SHA256', keyId: claims.did + '#atproto',
            publicKeyMultibase: claims.publicKeyMultibase },
    }));
    const b = await reg.pushBlob(blob);
    const e = await reg.pushBlob(EMPTY_BLOB);
    if (e.digest !== EMPTY_DIGEST) fail('empty blob digest ' + e.digest);
    const annotations = { 'io.atcr.atproto.did': claims.did, 'io.atcr.atproto.pds': claims.pds,
        'io.atcr.atproto.recordUri': claims.recordUri };
    const sig = Buffer.from(JSON.stringify({
        schemaVersion: 2, mediaType: OCI_MANIFEST, artifactType: SIG_TYPE,
        config: { mediaType: OCI_EMPTY, digest: EMPTY_DIGEST, size: 2 },
        layers: [{ mediaType: SIG_TYPE, digest: b.digest, size: b.size }],
        subject: { mediaType: OCI_MANIFEST, digest, size: image.length },
        annotations,
    }));
    const s = await reg.putManifest(sha256(sig), OCI_MANIFEST, sig);
    // the index after its child (2.8 validates index children)
    const tag = 'sha256-' + hexOf(digest);
    const old = await reg.getManifest(tag, OCI_INDEX);
    const manifests = old === null ? [] : JSON.parse(old.toString('utf8')).manifests.filter((d) => d.digest !== s.digest);
    manifests.push({ mediaType: OCI_MANIFEST, digest: s.digest, size: s.size, artifactType: SIG_TYPE, annotations });
    await reg.putManifest(tag, OCI_INDEX, Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests })));
    // what the tests compare the verdict with
    const dir = path.join(env.STATE, 'artifacts');
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, hexOf(s.digest) + '.json'), JSON.stringify({ subject: digest,
        subjectSize: image.length, signatureManifest: s.digest, signatureManifestSize: s.size,
        signatureBlob: b.digest, claims: JSON.parse(blob.toString('utf8')).atproto }, null, 2) + '\n');
    return s;
}

async function sign(env, acct, digest, lie) {
    const token = await session(env, acct);
    let recordUri, commitCid;
    if (lie.recordOf) {
        // no record of our own: point at the other account's (it must exist)
        const other = lie.recordOf;
        const r = await xrpc(env, 'GET', 'com.atproto.repo.getRecord',
            { query: { repo: other.did, collection: COLLECTION, rkey: hexOf(digest) } });
        recordUri = r.uri;
        const c = await xrpc(env, 'GET', 'com.atproto.sync.getLatestCommit', { query: { did: other.did } });
        commitCid = c.cid;
    } else {
        const r = await putRecord(env, acct, token, digest, digest);
        if (!r.uri || !r.commit || !r.commit.cid) fail('putRecord answered ' + JSON.stringify(r));
        recordUri = r.uri;
        commitCid = r.commit.cid;
    }
    const wantUri = 'at://' + acct.did + '/' + COLLECTION + '/' + hexOf(digest);
    if (!lie.recordOf && recordUri !== wantUri) fail('putRecord gave uri ' + recordUri + ', want ' + wantUri);
    const claims = { did: acct.did, handle: acct.handle, pds: env.PDS, recordUri, commitCid,
        publicKeyMultibase: await signingKey(env, acct.did) };
    if (lie.did) {
        claims.did = lie.did;
        claims.recordUri = 'at://' + lie.did + '/' + COLLECTION + '/' + hexOf(digest);
    }
    if (lie.pds) claims.pds = lie.pds;
    return pushArtifact(env, digest, claims);
}

async function deleteRecord(env, acct, digest) {
    const token = await session(env, acct);
    await xrpc(env, 'POST', 'com.atproto.repo.deleteRecord',
        { token, body: { repo: acct.did, collection: COLLECTION, rkey: hexOf(digest) } });
}

async function rewriteRecord(env, acct, digest, other) {
    hexOf(other);
    const token = await session(env, acct);
    await putRecord(env, acct, token, digest, other);
}

async function pushUnsigned(env, name, acct, tag) {
    const digest = await pushImage(env, name, tag);
    const c = await xrpc(env, 'GET', 'com.atproto.sync.getLatestCommit', { query: { did: acct.did } });
    const s = await pushArtifact(env, digest, { did: acct.did, handle: acct.handle, pds: env.PDS,
        recordUri: 'at://' + acct.did + '/' + COLLECTION + '/' + hexOf(digest), commitCid: c.cid,
        publicKeyMultibase: await signingKey(env, acct.did) });
    return { digest, sig: s };
}

const USAGE = 'usage: signer.js STATE create-account NAME | push-image NAME TAG | sign NAME DIGEST\n'
    + '       | sign-claiming NAME DIGEST (--did DID | --pds URL | --record-of NAME) | delete-record NAME DIGEST\n'
    + '       | rewrite-record NAME DIGEST OTHER_DIGEST | push-unsigned NAME TAG\n';

async function main(argv) {
    const [state, cmd, name, ...rest] = argv;
    if (!state || !cmd || !name) return usage();
    const env = readEnv(state);
    const out = (s) => process.stdout.write(s + '\n');
    switch (cmd) {
    case 'create-account':
        if (rest.length !== 0) return usage();
        return createAccount(state, env, name);
    case 'push-image':
        if (rest.length !== 1) return usage();
        loadAccount(state, name);
        return out(await pushImage(env, name, rest[0]));
    case 'sign': {
        if (rest.length !== 1) return usage();
        const s = await sign(env, loadAccount(state, name), rest[0], {});
        return out(s.digest + ' ' + s.size);
    }
    case 'sign-claiming': {
        if (rest.length !== 3) return usage();
        const [digest, flag, value] = rest;
        const lie = {};
        if (flag === '--did') {
            if (!/^did:[a-z]+:[A-Za-z0-9._:%-]+$/.test(value)) fail('bad DID ' + value);
            lie.did = value;
        } else if (flag === '--pds') {
            if (!/^https?:\/\/[^/]+$/.test(value)) fail('bad PDS URL ' + value);
            lie.pds = value;
        } else if (flag === '--record-of') {
            lie.recordOf = loadAccount(state, value);
        } else return usage();
        const s = await sign(env, loadAccount(state, name), digest, lie);
        return out(s.digest + ' ' + s.size);
    }
    case 'delete-record':
        if (rest.length !== 1) return usage();
        return deleteRecord(env, loadAccount(state, name), rest[0]);
    case 'rewrite-record':
        if (rest.length !== 2) return usage();
        return rewriteRecord(env, loadAccount(state, name), rest[0], rest[1]);
    case 'push-unsigned': {
        if (rest.length !== 1) return usage();
        const r = await pushUnsigned(env, name, loadAccount(state, name), rest[0]);
        return out(r.digest + ' ' + r.sig.digest + ' ' + r.sig.size);
    }
    default:
        return usage();
    }
}

function usage() {
    process.stderr.write(USAGE);
    process.exitCode = 2;
}

main(process.argv.slice(2)).catch((e) => {
    process.stderr.write('signer.js: ' + (e instanceof Fail ? e.message : (e.stack || e)) + '\n');
    process.exitCode = 1;
});
