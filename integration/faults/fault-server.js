#!/usr/bin/env node
'use strict';
// fault-server.js -- a misbehaving registry, PLC directory and PDS for integration/faults.bats.
// Node's http module, plus ../fixture/plc-log.js (the official @did-plc/lib that
// testdata/tsgen/ensure-modules.sh installs; up.sh runs it) to sign each DID's PDS operation;
// 127.0.0.1 (and 127.0.0.2 for the cross-host redirect) only.
//
//   node fault-server.js FIXTUREDIR STATE [--lifetime S] [--pds-port N]
//
// Each role serves the REAL bytes of the fixture (testdata/ratify/fixture) exactly as
// integration/fixture/up.sh + atproto-server.js would, so every request of a valid verification
// is well-formed, except where the role's current fault applies:
//   registry  127.0.0.1:P and 127.0.0.2:P (same port): /v2/, /v2/atv/app/manifests/REF and
//             /blobs/DIGEST from fixture/registry (by digest, and manifests by tag), with
//             Content-Type, Content-Length and Docker-Content-Digest; /token hands out a token.
//   plc       GET /DID/log/audit: the DID's audit log (the verifier's default, plcAuditLog true):
//             fixture/plc/DID.log.json plus the operation plc-log.js signs to move the PDS to this
//             server's PDS URL ("@PDS500@" accounts: to DEADURL); a tombstoned log as it is;
//             404 for a DID without a log. GET /DID: the directory's document (the weaker
//             plcAuditLog false mode): fixture/plc/DID.json with "@PDS@" replaced by the PDS URL
//             ("@PDS500@" by DEADURL) for plc "log" accounts, 410 for "tombstone", 404 otherwise
//             (aliases share another account's DID and are no entry of their own). The logs are
//             signed once, when the ports are known and before STATE/env is written.
//   pds       GET /xrpc/com.atproto.sync.getRecord: fixture/pds/DID/COLLECTION/RKEY.car, or 400
//             RecordNotFound.
//   ctl       GET /set?registry=F&plc=F&pds=F&auth=basic  sets the faults (a role not named is
//             reset to "good"; auth is reset to none), clears the per-role request counters and
//             the in-memory log; GET /log answers the requests since the last /set, one JSON
//             object a line: {seq, role, local, method, url, auth, fault, action}.
// A fault is NAME[=ARG][:TARGET]. TARGET (registry only) is manifest, blob or any (the default).
// The plc faults apply alike to the log and to the document, whichever the client asks for.
//   good             serve as above
//   refused          the role stops listening (its listeners close, its open connections are
//                    destroyed): a connect is refused, as from a crashed upstream; any other fault
//                    listens again on the same port. /set answers once that is done. (A port
//                    nobody ever listens on: DEAD / DEADURL.)
//   delay=MS         (any role) the real answer, MS milliseconds late (a slow upstream)
//   reset            close the connection at once, no answer
//   stall-head       read the request, never answer (socket destroyed after HOLD_MS)
//   stall-body       status line, headers (full Content-Length) and half of the body, then nothing
//   drip[=MS]        status line and headers, then the body one byte every MS (default DRIP_MS)
//   truncate         Content-Length of the whole body, half of it, then close
//   big[=N]          the body padded with zero bytes to N (default: over the cap of what is
//                    asked for: the manifest, the DID document, the PLC log or the CAR), with a
//                    Content-Length
//   bigchunked[=N]   the same without Content-Length (chunked): the cap must hold while streaming
//   pad=N            a JSON body padded with spaces to exactly N bytes (still valid JSON)
//   ctype=T          Content-Type T instead of the real one
//   tamper           one byte of the body flipped (same length)
//   status=N         HTTP N with a JSON error body (503 also sends Retry-After: 1)
//   loop             a redirect loop: 302 to ?loop=b, which redirects back to ?loop=a, ...
//   xhost            (registry) 307 from 127.0.0.1 to the same URL on 127.0.0.2; 127.0.0.2 serves
//                    the real bytes without asking for credentials (like a storage backend)
//   always401        (registry) 401 to everything, with a Basic challenge, or with ARG "bearer" a
//                    Bearer challenge whose realm (/token) does hand out a token
//   flip / flip-rev  (plc) first request the real answer, every later one the answer with another
//                    key (flip-rev: the other way round)
//   otherkey         (plc) the answer with another key (fixture.json claimedWrongKey): in the
//                    document its verificationMethod; in the log the last operation's
//                    verificationMethods.atproto, with the entry's cid recomputed but NOT
//                    re-signed (a directory that lies: only the signature no longer holds)
//   pdsdead          (plc) the document names DEADURL as its PDS; the log is signed afresh with
//                    a PDS operation that moves the PDS to DEADURL
//   stale-oldkey / stale-deleted
//                    (pds) the CARs of integration/faults/data (gen-stale.mjs) for their rkey
// auth=basic: the registry on 127.0.0.1 demands Authorization "Basic base64(faultuser:faultpass)"
// (401 with a Basic challenge otherwise); 127.0.0.2 never does.
// When all listen and the logs are signed, it writes STATE/env (REGISTRY REGISTRY2 PLC PDS DEAD
// DEADURL CTL FIXTURE FAULTSDATA BASICUSER BASICPASS) through a temporary file and a rename, and
// logs every request to STATE/fault-server.log. Exits on SIGTERM/SIGINT and after --lifetime
// seconds (default 600); the suite also runs it under timeout(1).

const crypto = require('node:crypto');
const fs = require('node:fs');
const http = require('node:http');
const { createRequire } = require('node:module');
const net = require('node:net');
const path = require('node:path');
const { buildLogs } = require('../fixture/plc-log.js');

const HOLD_MS = 8000; // a stalled socket is destroyed after this, whatever the client does
const DRIP_MS = 100; // one byte per DRIP_MS in "drip"
const MAX_LOG = 10000; // entries kept in memory between two /set
const USER = 'faultuser';
const PASS = 'faultpass';
// "big" sizes: over the plugin's caps (common/limits.h), which the PLC role has two of
const CAPS = { registry: (5 << 20), plc: (64 << 10) + 1, plclog: (4 << 20) + 1, pds: (8 << 20) + 1 };

function die(msg) {
  process.stderr.write(`fault-server.js: ${msg}\n`);
  process.exit(2);
}

function parseArgs(argv) {
  const a = { fixture: null, state: null, lifetime: 600, pdsPort: 0 };
  const pos = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--lifetime') a.lifetime = Number(argv[++i]);
    else if (argv[i] === '--pds-port') a.pdsPort = Number(argv[++i]);
    else pos.push(argv[i]);
  }
  if (pos.length !== 2) die('usage: node fault-server.js FIXTUREDIR STATE [--lifetime S] [--pds-port N]');
  if (!(a.lifetime > 0 && a.lifetime <= 3600)) die('--lifetime: 1..3600 seconds');
  if (!(Number.isInteger(a.pdsPort) && a.pdsPort >= 0 && a.pdsPort < 65536)) die('--pds-port: a port');
  [a.fixture, a.state] = pos.map((p) => path.resolve(p));
  return a;
}

const sha256 = (b) => 'sha256:' + crypto.createHash('sha256').update(b).digest('hex');

// ---- the fixture's registry content, from push.list ---------------------------------------------
function loadRegistry(fixture) {
  const dir = path.join(fixture, 'registry');
  const blobs = new Map();
  const manifests = new Map(); // digest or tag -> {body, mt, digest}
  for (const line of fs.readFileSync(path.join(dir, 'push.list'), 'utf8').split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f[0] === 'blob') {
      const body = fs.readFileSync(path.join(dir, f[1]));
      blobs.set(sha256(body), body);
    } else if (f[0] === 'manifest') {
      const body = fs.readFileSync(path.join(dir, f[1]));
      const m = { body, mt: f[2], digest: sha256(body) };
      manifests.set(m.digest, m);
      manifests.set(f[3], m);
    }
  }
  return { blobs, manifests };
}

function parseFault(s) {
  const m = /^([a-z0-9-]+)(?:=([^:]*))?(?::(manifest|blob|any))?$/.exec(s || 'good');
  if (!m) return null;
  return { name: m[1], arg: m[2] === undefined ? null : m[2], target: m[3] || 'any', text: s || 'good' };
}

function main() {
  const args = parseArgs(process.argv.slice(2));
  const fx = JSON.parse(fs.readFileSync(path.join(args.fixture, 'fixture.json'), 'utf8'));
  const dataDir = path.resolve(__dirname, 'data');
  const stale = JSON.parse(fs.readFileSync(path.join(dataDir, 'stale.json'), 'utf8'));
  const reg = loadRegistry(args.fixture);
  const fileLog = fs.createWriteStream(path.join(args.state, 'fault-server.log'), { flags: 'a' });
  const held = new Set();
  const urls = {};
  let faults = {};
  let authMode = 'none';
  let counts = {};
  let mem = [];
  let seq = 0;

  const setFaults = (q) => {
    const next = {};
    for (const role of ['registry', 'plc', 'pds']) {
      const f = parseFault(q.get(role));
      if (f === null) return `bad fault for ${role}: ${q.get(role)}`;
      next[role] = f;
    }
    const auth = q.get('auth') || 'none';
    if (auth !== 'none' && auth !== 'basic') return `bad auth ${auth}`;
    faults = next;
    authMode = auth;
    counts = { registry: 0, plc: 0, pds: 0 };
    mem = [];
    return null;
  };
  setFaults(new URLSearchParams());

  const log = (role, req, auth, fault, action) => {
    const e = {
      seq: ++seq,
      role,
      local: `${req.socket.localAddress}:${req.socket.localPort}`,
      method: req.method,
      url: req.url,
      auth,
      fault: fault.text,
      action,
    };
    if (mem.length < MAX_LOG) mem.push(e);
    fileLog.write(`${new Date().toISOString()} ${JSON.stringify(e)}\n`);
  };

  const hold = (sock) => {
    held.add(sock);
    const t = setTimeout(() => sock.destroy(), HOLD_MS);
    sock.on('close', () => {
      clearTimeout(t);
      held.delete(sock);
    });
  };

  const head = (status, headers) => {
    let s = `HTTP/1.1 ${status} ${http.STATUS_CODES[status] || 'Status'}\r\n`;
    for (const [k, v] of Object.entries(headers)) s += `${k}: ${v}\r\n`;
    return s + 'Connection: close\r\n\r\n';
  };

  // Carries out `fault` on the answer `good` ({status, headers, body}) of a request.
  const respond = (role, req, res, good, fault, auth, note) => {
    const sock = req.socket;
    sock.on('error', () => {}); // the client hanging up mid-body is what several faults expect
    const body = good.body;
    const hdr = (extra) => Object.assign({}, good.headers, extra);
    const raw = (h, chunk, then) => {
      sock.write(head(good.status, h));
      if (chunk && chunk.length > 0) sock.write(chunk);
      if (then === 'end') sock.end();
      else if (then === 'hold') hold(sock);
    };
    const n = fault.name;
    const half = body.subarray(0, Math.floor(body.length / 2));
    log(role, req, auth, fault, (note ? note + ', ' : '') + (n === 'good' ? `${good.status}` : n));
    switch (n) {
      case 'good':
        res.writeHead(good.status, hdr({ 'Content-Length': body.length }));
        res.end(req.method === 'HEAD' ? undefined : body);
        return;
      case 'reset':
        sock.destroy();
        return;
      case 'delay': {
        const t = setTimeout(() => {
          if (sock.destroyed) return;
          res.writeHead(good.status, hdr({ 'Content-Length': body.length }));
          res.end(req.method === 'HEAD' ? undefined : body);
        }, Math.max(0, Number(fault.arg)));
        sock.on('close', () => clearTimeout(t));
        return;
      }
      case 'stall-head':
        hold(sock);
        return;
      case 'stall-body':
        raw(hdr({ 'Content-Length': body.length }), half, 'hold');
        return;
      case 'truncate':
        raw(hdr({ 'Content-Length': body.length }), half, 'end');
        return;
      case 'drip': {
        raw(hdr({ 'Content-Length': body.length }), null, 'hold');
        let i = 0;
        const every = fault.arg !== null ? Math.max(1, Number(fault.arg)) : DRIP_MS;
        const t = setInterval(() => {
          if (i >= body.length || sock.destroyed) {
            clearInterval(t);
            if (!sock.destroyed) sock.end();
            return;
          }
          sock.write(body.subarray(i, i + 1));
          i++;
        }, every);
        sock.on('close', () => clearInterval(t));
        return;
      }
      case 'big':
      case 'bigchunked': {
        const size = fault.arg !== null ? Number(fault.arg) : (good.cap || CAPS[role]);
        const big = Buffer.alloc(Math.max(size, body.length));
        body.copy(big);
        if (n === 'big') {
          raw(hdr({ 'Content-Length': big.length }), big, 'end');
          return;
        }
        sock.write(head(good.status, hdr({ 'Transfer-Encoding': 'chunked' })));
        const CH = 64 << 10;
        let off = 0;
        // paced by 'drain', so a client that stops reading stops us too
        const pump = () => {
          while (off < big.length && !sock.destroyed) {
            const c = big.subarray(off, off + CH);
            off += c.length;
            // one write per chunk: a chunk is never split by a full socket buffer
            const framed = Buffer.concat([Buffer.from(`${c.length.toString(16)}\r\n`), c, Buffer.from('\r\n')]);
            if (!sock.write(framed)) {
              sock.once('drain', pump);
              return;
            }
          }
          if (!sock.destroyed) sock.end('0\r\n\r\n');
        };
        pump();
        return;
      }
      case 'pad': {
        const size = Number(fault.arg);
        const padded = Buffer.alloc(Math.max(size, body.length), 0x20);
        body.copy(padded);
        res.writeHead(good.status, hdr({ 'Content-Length': padded.length }));
        res.end(padded);
        return;
      }
      case 'ctype':
        res.writeHead(good.status, hdr({ 'Content-Type': fault.arg, 'Content-Length': body.length }));
        res.end(req.method === 'HEAD' ? undefined : body);
        return;
      case 'tamper': {
        const t = Buffer.from(body);
        const at = Math.floor(t.length / 2);
        t[at] ^= 0x01;
        res.writeHead(good.status, hdr({ 'Content-Length': t.length }));
        res.end(req.method === 'HEAD' ? undefined : t);
        return;
      }
      case 'status': {
        const st = Number(fault.arg);
        const b = Buffer.from(JSON.stringify({ error: 'InjectedFault', message: `injected HTTP ${st}` }));
        const h = { 'Content-Type': 'application/json', 'Content-Length': b.length };
        if (st === 503) h['Retry-After'] = '1';
        res.writeHead(st, h);
        res.end(b);
        return;
      }
      case 'loop': {
        const u = new URL(req.url, 'http://x');
        const next = u.searchParams.get('loop') === 'b' ? 'a' : 'b';
        u.searchParams.set('loop', next);
        res.writeHead(302, { Location: u.pathname + u.search, 'Content-Length': 0 });
        res.end();
        return;
      }
      default:
        res.writeHead(500, { 'Content-Length': 0 });
        res.end();
    }
  };

  const jsonAnswer = (status, obj, extra) => {
    const body = Buffer.from(JSON.stringify(obj));
    return { status, headers: Object.assign({ 'Content-Type': 'application/json' }, extra || {}), body };
  };

  // ---- registry ---------------------------------------------------------------------------------
  const basicOk = 'Basic ' + Buffer.from(`${USER}:${PASS}`).toString('base64');
  const authOf = (req) => {
    const a = req.headers.authorization;
    if (a === undefined) return 'none';
    if (a === basicOk) return 'basic-ok';
    return a.split(' ')[0].toLowerCase() + '-other';
  };
  const registry = (req, res) => {
    counts.registry++;
    const u = new URL(req.url, 'http://x');
    const on2 = req.socket.localAddress === '127.0.0.2';
    const auth = authOf(req);
    let f = faults.registry;
    const m = /^\/v2\/atv\/app\/(manifests|blobs)\/([^/]+)$/.exec(u.pathname);
    const kind = m ? (m[1] === 'manifests' ? 'manifest' : 'blob') : 'other';
    if (f.target !== 'any' && f.target !== kind) f = parseFault('good');
    if (u.pathname === '/token') {
      return respond('registry', req, res, jsonAnswer(200, { token: 'faults-token' }), parseFault('good'), auth);
    }
    if (f.name === 'always401') {
      const ch = f.arg === 'bearer'
        ? `Bearer realm="http://127.0.0.1:${req.socket.localPort}/token",service="faults"`
        : 'Basic realm="faults"';
      return respond('registry', req, res,
        jsonAnswer(401, { errors: [{ code: 'UNAUTHORIZED', message: 'authentication required' }] },
          { 'WWW-Authenticate': ch }), parseFault('good'), auth);
    }
    if (authMode === 'basic' && !on2 && auth !== 'basic-ok') {
      return respond('registry', req, res,
        jsonAnswer(401, { errors: [{ code: 'UNAUTHORIZED', message: 'authentication required' }] },
          { 'WWW-Authenticate': 'Basic realm="faults"' }), parseFault('good'), auth);
    }
    if (u.pathname === '/v2/' || u.pathname === '/v2') {
      return respond('registry', req, res, jsonAnswer(200, {}), f, auth);
    }
    let good;
    if (kind === 'manifest' && reg.manifests.has(m[2])) {
      const x = reg.manifests.get(m[2]);
      good = { status: 200, headers: { 'Content-Type': x.mt, 'Docker-Content-Digest': x.digest }, body: x.body };
    } else if (kind === 'blob' && reg.blobs.has(m[2])) {
      good = {
        status: 200,
        headers: { 'Content-Type': 'application/octet-stream', 'Docker-Content-Digest': m[2] },
        body: reg.blobs.get(m[2]),
      };
    } else {
      good = jsonAnswer(404, { errors: [{ code: kind === 'blob' ? 'BLOB_UNKNOWN' : 'MANIFEST_UNKNOWN', message: 'unknown' }] });
    }
    if (f.name === 'xhost') {
      if (kind === 'blob' && !on2) {
        log('registry', req, auth, f, '307 to 127.0.0.2');
        res.writeHead(307, { Location: `http://127.0.0.2:${req.socket.localPort}${req.url}`, 'Content-Length': 0 });
        res.end();
        return undefined;
      }
      f = parseFault('good');
    }
    return respond('registry', req, res, good, f, auth);
  };

  // ---- PLC directory ----------------------------------------------------------------------------
  const otherKey = fx.claimedWrongKey; // a valid K-256 key that is nobody's DID-document key
  // aliases share a DID with a real account: they are no directory entry of their own
  const plcMode = new Map(Object.values(fx.accounts).filter((a) => a.plc !== 'alias').map((a) => [a.did, a.plc]));
  let logs = new Map(); // did -> {full, rollback} (plc-log.js): signed in start(), before STATE/env
  let deadLogs = new Map(); // the same with the PDS operation naming DEADURL, for pdsdead
  let otherLogs = new Map(); // did -> the full log with another key, for otherkey and flip
  const AUDIT = '/log/audit';
  // The log with the last operation's atproto key replaced and its entry's cid made to match the
  // changed operation (as a directory rewriting its own database would), signature untouched:
  // only the signature betrays the lie. A tombstone names no key: served as it is.
  const withOtherKey = async (plcLib, text) => {
    const entries = JSON.parse(text);
    const last = entries[entries.length - 1];
    if (last.operation.type !== 'plc_operation') return text;
    last.operation.verificationMethods.atproto = `did:key:${otherKey}`;
    last.cid = (await plcLib.getLastOpWithCid([last.operation])).cid.toString();
    return JSON.stringify(entries);
  };
  const plc = (req, res) => {
    counts.plc++;
    const n = counts.plc;
    const u = new URL(req.url, 'http://x');
    const audit = u.pathname.endsWith(AUDIT);
    let did = '';
    try {
      did = decodeURIComponent(u.pathname.slice(1, audit ? -AUDIT.length : undefined));
    } catch (e) {
      // not a DID: 404 below
    }
    const mode = plcMode.get(did);
    let f = faults.plc;
    const useOther = f.name === 'otherkey' || (f.name === 'flip' && n > 1) || (f.name === 'flip-rev' && n === 1);
    let good = null;
    if (audit && logs.has(did)) {
      let text = (f.name === 'pdsdead' ? deadLogs : logs).get(did).full;
      if (useOther) text = otherLogs.get(did);
      good = { status: 200, headers: { 'Content-Type': 'application/json' }, body: Buffer.from(text), cap: CAPS.plclog };
    } else if (!audit && mode === 'tombstone') {
      good = jsonAnswer(410, { message: `DID not available: ${did}` });
    } else if (!audit && mode === 'log') {
      const text = fs.readFileSync(path.join(args.fixture, 'plc', `${did}.json`), 'utf8');
      const pds = f.name === 'pdsdead' ? urls.DEADURL : urls.PDS;
      const doc = JSON.parse(text.split('@PDS500@').join(urls.DEADURL).split('@PDS@').join(pds));
      if (useOther) doc.verificationMethod[0].publicKeyMultibase = otherKey;
      good = { status: 200, headers: { 'Content-Type': 'application/json' }, body: Buffer.from(JSON.stringify(doc, null, 2)) };
    }
    if (good === null) {
      return respond('plc', req, res, jsonAnswer(404, { message: `DID not registered: ${did}` }), f, authOf(req));
    }
    let note = null;
    if (['pdsdead', 'otherkey', 'flip', 'flip-rev'].includes(f.name)) {
      const what = audit ? 'log' : 'doc';
      if (f.name === 'pdsdead') note = `${f.text}: ${what} naming DEADURL as the PDS`;
      else note = `${f.text}: ${useOther ? `${what} with another key` : `real ${what}`}`;
      f = parseFault('good');
    }
    return respond('plc', req, res, good, f, authOf(req), note);
  };

  // ---- PDS ----------------------------------------------------------------------------------------
  const pds = (req, res) => {
    counts.pds++;
    const u = new URL(req.url, 'http://x');
    let f = faults.pds;
    if (u.pathname !== '/xrpc/com.atproto.sync.getRecord') {
      return respond('pds', req, res, jsonAnswer(404, { error: 'MethodNotImplemented', message: 'no such method' }), f, authOf(req));
    }
    const did = u.searchParams.get('did') || '';
    const col = u.searchParams.get('collection') || '';
    const rkey = u.searchParams.get('rkey') || '';
    if (!/^did:plc:[a-z2-7]{24}$/.test(did) || !/^[a-z][a-z0-9.-]{0,316}$/i.test(col) || !/^[a-zA-Z0-9._:~-]{1,512}$/.test(rkey) || rkey === '.' || rkey === '..') {
      return respond('pds', req, res, jsonAnswer(400, { error: 'InvalidRequest', message: 'bad did, collection or rkey' }), f, authOf(req));
    }
    let file = path.join(args.fixture, 'pds', did, col, `${rkey}.car`);
    for (const which of ['oldkey', 'deleted']) {
      if (f.name === `stale-${which}` && did === stale.did && rkey === stale[which].rkey) {
        file = path.join(dataDir, stale[which].file);
      }
    }
    let note = null;
    if (f.name.startsWith('stale-')) {
      note = `${f.text}: ${file.startsWith(dataDir) ? 'stale commit' : 'real'}`;
      f = parseFault('good');
    }
    let car;
    try {
      car = fs.readFileSync(file);
    } catch (e) {
      return respond('pds', req, res, jsonAnswer(400, { error: 'RecordNotFound', message: `Could not find record: at://${did}/${col}/${rkey}` }), f, authOf(req));
    }
    return respond('pds', req, res, { status: 200, headers: { 'Content-Type': 'application/vnd.ipld.car' }, body: car }, f, authOf(req), note);
  };

  // ---- control ------------------------------------------------------------------------------------
  const ctl = (req, res) => {
    const u = new URL(req.url, 'http://x');
    let status = 200;
    let body;
    if (u.pathname === '/set') {
      const bad = setFaults(u.searchParams);
      if (bad) {
        status = 400;
        body = bad + '\n';
      } else {
        // "refused": the role's listeners close (or open again) before the answer
        applyRefused().then((err) => {
          const b = err ? `refused: ${err}\n`
            : JSON.stringify({ faults: Object.fromEntries(Object.entries(faults).map(([k, v]) => [k, v.text])), auth: authMode }) + '\n';
          fileLog.write(`${new Date().toISOString()} set ${b}`);
          res.writeHead(err ? 500 : 200, { 'Content-Type': 'text/plain', 'Content-Length': Buffer.byteLength(b) });
          res.end(b);
        });
        return;
      }
    } else if (u.pathname === '/log') {
      body = mem.map((e) => JSON.stringify(e) + '\n').join('');
    } else {
      status = 404;
      body = 'no such control\n';
    }
    res.writeHead(status, { 'Content-Type': 'text/plain', 'Content-Length': Buffer.byteLength(body) });
    res.end(body);
  };

  // ---- listening ------------------------------------------------------------------------------------
  const servers = [];
  // role -> [{srv, host, port}]: what "refused" closes and opens again
  const roleServers = { registry: [], plc: [], pds: [] };
  const closed = { registry: false, plc: false, pds: false };
  const applyRefused = async () => {
    for (const role of Object.keys(roleServers)) {
      const want = faults[role].name === 'refused';
      if (want === closed[role]) continue;
      for (const e of roleServers[role]) {
        if (want) {
          await new Promise((resolve) => {
            e.srv.close(() => resolve());
            e.srv.closeAllConnections();
          });
        } else {
          try {
            await listen(e.srv, e.host, e.port);
          } catch (err) {
            return `${role} ${e.host}:${e.port}: ${err.message}`;
          }
        }
      }
      closed[role] = want;
    }
    return null;
  };
  const mk = (handler) => {
    const s = http.createServer(handler);
    s.keepAliveTimeout = 2000;
    servers.push(s);
    return s;
  };
  const listen = (srv, host, port) => new Promise((resolve, reject) => {
    const onErr = (e) => reject(e);
    srv.once('error', onErr);
    srv.listen(port, host, () => {
      srv.removeListener('error', onErr);
      resolve(srv.address().port);
    });
  });
  const closeQuiet = (srv) => new Promise((resolve) => srv.close(() => resolve()));

  const start = async () => {
    // the registry: the same port on 127.0.0.1 and 127.0.0.2, so that only the host differs
    let regPort = 0;
    for (let i = 0; i < 10 && regPort === 0; i++) {
      const a = mk(registry);
      const b = mk(registry);
      const p = await listen(a, '127.0.0.1', 0);
      try {
        await listen(b, '127.0.0.2', p);
        regPort = p;
        roleServers.registry.push({ srv: a, host: '127.0.0.1', port: p }, { srv: b, host: '127.0.0.2', port: p });
      } catch (e) {
        await closeQuiet(a);
        servers.splice(servers.indexOf(a), 1);
        servers.splice(servers.indexOf(b), 1);
      }
    }
    if (regPort === 0) throw new Error('no port free on both 127.0.0.1 and 127.0.0.2');
    const plcSrv = mk(plc);
    const plcPort = await listen(plcSrv, '127.0.0.1', 0);
    const pdsSrv = mk(pds);
    const pdsPort = await listen(pdsSrv, '127.0.0.1', args.pdsPort);
    roleServers.plc.push({ srv: plcSrv, host: '127.0.0.1', port: plcPort });
    roleServers.pds.push({ srv: pdsSrv, host: '127.0.0.1', port: pdsPort });
    const ctlPort = await listen(mk(ctl), '127.0.0.1', 0);
    // a port that was free a moment ago and that nobody listens on now: "connection refused"
    const probe = net.createServer();
    const deadPort = await listen(probe, '127.0.0.1', 0);
    await closeQuiet(probe);
    Object.assign(urls, {
      REGISTRY: `127.0.0.1:${regPort}`,
      REGISTRY2: `127.0.0.2:${regPort}`,
      PLC: `http://127.0.0.1:${plcPort}`,
      PDS: `http://127.0.0.1:${pdsPort}`,
      DEAD: `127.0.0.1:${deadPort}`,
      DEADURL: `http://127.0.0.1:${deadPort}`,
      CTL: `http://127.0.0.1:${ctlPort}`,
      FIXTURE: args.fixture,
      FAULTSDATA: dataDir,
      BASICUSER: USER,
      BASICPASS: PASS,
    });
    // every port is known: sign each DID's PDS operation before STATE/env names any port
    [logs, deadLogs] = await Promise.all([
      buildLogs(args.fixture, { '@PDS@': urls.PDS, '@PDS500@': urls.DEADURL }),
      buildLogs(args.fixture, { '@PDS@': urls.DEADURL, '@PDS500@': urls.DEADURL }),
    ]);
    // plc-log.js found @did-plc/lib in testdata/tsgen: the same copy computes the forged CIDs
    const plcLib = createRequire(path.resolve(__dirname, '../../testdata/tsgen/package.json'))('@did-plc/lib');
    for (const [did, l] of logs) otherLogs.set(did, await withOtherKey(plcLib, l.full));
    const text = Object.entries(urls).map(([k, v]) => `${k}=${v}`).join('\n') + '\n';
    const tmp = path.join(args.state, 'env.tmp');
    fs.writeFileSync(tmp, text);
    fs.renameSync(tmp, path.join(args.state, 'env'));
    fileLog.write(`${new Date().toISOString()} listening ${text.trim().split('\n').join(' ')}\n`);
  };

  const stop = () => {
    for (const s of held) s.destroy();
    for (const s of servers) s.close();
    fileLog.end(() => process.exit(0));
    setTimeout(() => process.exit(0), 1000).unref();
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  setTimeout(stop, args.lifetime * 1000).unref();
  // the lifetime timer is unref'd: the listeners keep the process alive until it fires
  start().catch((e) => {
    process.stderr.write(`fault-server.js: ${e.message}\n`);
    process.exit(1);
  });
}

main();
