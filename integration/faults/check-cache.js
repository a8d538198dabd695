#!/usr/bin/env node
'use strict';
// check-cache.js -- checks that a DID cache directory (common/cache.c) holds only whole, valid
// entries: no temporary file left behind, and every file a complete entry for a known key.
//
//   node check-cache.js [--weak] DIR PLC_URL DID...
//
// An entry is DIR/hex(sha256(KEY)).json, mode 0600, a regular file holding
// "atv-cache-v1 <unix seconds> <hex sha256 of body> <body length>\n" and then exactly that body.
// Every DID must have its identity entry: KEY "plcaudit PLC_URL DID", the DID's PLC audit log as
// the directory served it (a JSON array of operations of that DID; plcAuditLog true, the
// default), or with --weak "PLC_URL DID", a JSON DID document whose id is the DID (the
// directory's document, plcAuditLog false). Each DID may also
// have the guards' entries, checked the same way: "rev DID" (the newest repository rev seen, body
// a 13-character TID) and, in log mode, "plchead DID" (the CID of the newest PLC operation seen,
// body a base32 CIDv1). DIR/.lock, the lock file of the compare-and-set that moves the PLC head,
// may be there too: a regular file of mode 0600. Prints one line per file; exits 1 on the first
// kind of problem found in any file (all are reported), 0 when every file is valid and every DID
// has its entry.

const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');

const hex = (b) => crypto.createHash('sha256').update(b).digest('hex');
const file = (key) => `${hex(key)}.json`;

function main() {
  const argv = process.argv.slice(2);
  const weak = argv[0] === '--weak';
  const [dir, plc, ...dids] = weak ? argv.slice(1) : argv;
  if (!dir || !plc || dids.length === 0) {
    process.stderr.write('usage: node check-cache.js [--weak] DIR PLC_URL DID...\n');
    return 2;
  }
  const want = new Map(dids.map((d) => [file(weak ? `${plc} ${d}` : `plcaudit ${plc} ${d}`), d]));
  // the guards' entries: name -> {did, what, shape of the body}
  const guards = new Map();
  for (const d of dids) {
    guards.set(file(`rev ${d}`), { did: d, what: 'rev', re: /^[2-7a-z]{13}$/, shape: 'a TID' });
    if (!weak) guards.set(file(`plchead ${d}`), { did: d, what: 'PLC head', re: /^b[a-z2-7]{50,100}$/, shape: 'a CID' });
  }
  const seen = new Set();
  let bad = 0;
  const names = fs.readdirSync(dir);
  for (const name of names) {
    const p = path.join(dir, name);
    const problems = [];
    const st = fs.lstatSync(p);
    if (!st.isFile()) problems.push('not a regular file');
    if ((st.mode & 0o777) !== 0o600) problems.push(`mode ${(st.mode & 0o777).toString(8)}, want 600`);
    const did = want.get(name);
    const guard = guards.get(name);
    if (name === '.lock') {
      process.stdout.write(`${name}: ${problems.length === 0 ? 'the lock file' : problems.join('; ')}\n`);
      if (problems.length > 0) bad++;
      continue;
    }
    if (did === undefined && guard === undefined) problems.push('not the entry of any expected key (a temporary or stray file)');
    if (st.isFile()) {
      const b = fs.readFileSync(p);
      const nl = b.indexOf(0x0a);
      const m = nl > 0 ? /^atv-cache-v1 ([0-9]{1,19}) ([0-9a-f]{64}) ([0-9]{1,19})$/.exec(b.subarray(0, nl).toString('latin1')) : null;
      if (!m) problems.push('header does not parse');
      else {
        const body = b.subarray(nl + 1);
        if (body.length !== Number(m[3])) problems.push(`body of ${body.length} bytes, header says ${m[3]}`);
        if (hex(body) !== m[2]) problems.push('body hash differs from the header');
        if (guard !== undefined) {
          if (!guard.re.test(body.toString('latin1'))) problems.push(`${guard.what} entry is not ${guard.shape}`);
        } else {
          try {
            const doc = JSON.parse(body.toString('utf8'));
            if (did !== undefined && weak && doc.id !== did) problems.push(`document id ${doc.id}, want ${did}`);
            if (did !== undefined && !weak) {
              if (!Array.isArray(doc) || doc.length === 0) problems.push('log is not a non-empty array');
              else if (doc.some((e) => e.did !== did)) problems.push(`log has an entry of another DID, want ${did}`);
            }
          } catch (e) {
            problems.push('body is not JSON');
          }
        }
      }
    }
    if (did !== undefined && problems.length === 0) seen.add(name);
    const what = guard !== undefined ? `valid ${guard.what} entry for ${guard.did}` : `valid entry for ${did}`;
    process.stdout.write(`${name}: ${problems.length === 0 ? what : problems.join('; ')}\n`);
    if (problems.length > 0) bad++;
  }
  for (const [name, d] of want) {
    if (!seen.has(name)) {
      process.stdout.write(`${name}: missing (the ${weak ? 'document' : 'verified log'} entry for ${d})\n`);
      bad++;
    }
  }
  process.stdout.write(`${names.length} file(s), ${bad} problem(s)\n`);
  return bad === 0 ? 0 : 1;
}

process.exitCode = main();
