#!/usr/bin/env node
'use strict';
// check-cache.js -- checks that a DID cache directory (common/cache.c) holds only whole, valid
// entries: no temporary file left behind, and every file a complete entry for a known key.
//
//   node check-cache.js DIR PLC_URL DID...
//
// An entry is DIR/hex(sha256("PLC_URL DID")).json, mode 0600, a regular file holding
// "atv-cache-v1 <unix seconds> <hex sha256 of body> <body length>\n" and then exactly that body,
// which must be a JSON DID document whose id is the DID. The rollback guard's entries
// (hex(sha256("rev DID")).json, body a 13-character TID) are checked the same way, and each
// DID may have one. Prints one line per file; exits 1 on
// the first kind of problem found in any file (all are reported), 0 when every file is valid
// and every DID has its entry.

const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');

const hex = (b) => crypto.createHash('sha256').update(b).digest('hex');

function main() {
  const [dir, plc, ...dids] = process.argv.slice(2);
  if (!dir || !plc || dids.length === 0) {
    process.stderr.write('usage: node check-cache.js DIR PLC_URL DID...\n');
    return 2;
  }
  const want = new Map(dids.map((d) => [`${hex(`${plc} ${d}`)}.json`, d]));
  const revs = new Map(dids.map((d) => [`${hex(`rev ${d}`)}.json`, d]));
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
    const revOf = revs.get(name);
    if (did === undefined && revOf === undefined) problems.push('not the entry of any expected key (a temporary or stray file)');
    if (st.isFile()) {
      const b = fs.readFileSync(p);
      const nl = b.indexOf(0x0a);
      const m = nl > 0 ? /^atv-cache-v1 ([0-9]{1,19}) ([0-9a-f]{64}) ([0-9]{1,19})$/.exec(b.subarray(0, nl).toString('latin1')) : null;
      if (!m) problems.push('header does not parse');
      else {
        const body = b.subarray(nl + 1);
        if (body.length !== Number(m[3])) problems.push(`body of ${body.length} bytes, header says ${m[3]}`);
        if (hex(body) !== m[2]) problems.push('body hash differs from the header');
        if (revOf !== undefined) {
          if (!/^[2-7a-z]{13}$/.test(body.toString('latin1'))) problems.push('rev entry is not a TID');
        } else {
          try {
            const doc = JSON.parse(body.toString('utf8'));
            if (did !== undefined && doc.id !== did) problems.push(`document id ${doc.id}, want ${did}`);
          } catch (e) {
            problems.push('body is not JSON');
          }
        }
      }
    }
    if (did !== undefined && problems.length === 0) seen.add(name);
    const what = revOf !== undefined ? `valid rev entry for ${revOf}` : `valid entry for ${did}`;
    process.stdout.write(`${name}: ${problems.length === 0 ? what : problems.join('; ')}\n`);
    if (problems.length > 0) bad++;
  }
  for (const [name, d] of want) {
    if (!seen.has(name)) {
      process.stdout.write(`${name}: missing (the entry for ${d})\n`);
      bad++;
    }
  }
  process.stdout.write(`${names.length} file(s), ${bad} problem(s)\n`);
  return bad === 0 ? 0 : 1;
}

process.exitCode = main();
