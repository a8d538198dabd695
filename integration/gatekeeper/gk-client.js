#!/usr/bin/env node
'use strict';
// gk-client.js -- OPA Gatekeeper's external data client, emulated from its source, to call
// `atcr-verify serve` the way Gatekeeper does. Facts (open-policy-agent/frameworks
// constraint/pkg/externaldata/{request,response}.go, constraint/pkg/client/drivers/rego/builtin.go;
// open-policy-agent/gatekeeper pkg/mutation/system_external_data.go; summarized with their
// commits in ../shared/reference/admission-surfaces.md, section 2):
//   - POST <url>, Content-Type application/json, body
//     {"apiVersion":"externaldata.gatekeeper.sh/v1beta1","kind":"ProviderRequest","request":{"keys":[...]}};
//   - TLS 1.3 minimum, the Provider's caBundle as the only root (no system roots), Gatekeeper's
//     own certificate as the client certificate when it has one; keep-alive connections
//     (IdleConnTimeout 90 s, MaxIdleConnsPerHost 10); the Provider's timeout for the whole call;
//   - the body is json.Unmarshal'ed whatever the HTTP status; apiVersion and kind are not checked;
//   - a transport error, a timeout, a TLS failure or a body that is not JSON becomes
//     system_error = the error text with status_code 500 and no items;
//   - validation (external_data builtin): items with a non-empty error go to `errors`, the others
//     to `responses`; every returned item is cached, errors included, for the TTL (3 min
//     by default), keyed by (provider, key); only keys not in the cache are sent; systemError
//     is never cached; status_code stays 0 when every key came from the cache;
//   - mutation: keys de-duplicated; the whole response is rejected when systemError is
//     non-empty or idempotent is false; a key missing from the items, an item error or a
//     value that is not a string fails that placeholder.
//
//   node gk-client.js --url URL --ca FILE [--cert FILE --key FILE] [--timeout S] [--mutate]
//                     [--ttl S] ROUND...
// ROUND is a comma-separated list of keys (one external_data call each, in order, sharing the
// cache and the keep-alive connections). Prints one JSON line per round:
//   validation: {"rego": {responses, errors, status_code, system_error}, "sent": [keys sent],
//                "deny": [reasons the ConstraintTemplate's Rego gives], "sockets": N}
//   mutation:   {"values": {key: value}, "failed": "..." | null, "sent": [...], "sockets": N}
// (deny: the rules integration/k8s/server's ConstraintTemplate states: a system_error, any
// errors entry, a key in neither responses nor errors, or a value whose allowed is not true;
// never status_code.)

const fs = require('node:fs');
const https = require('node:https');

function usage(msg) {
  process.stderr.write(`gk-client.js: ${msg}\n`);
  process.exit(2);
}

const args = process.argv.slice(2);
const opt = { timeout: 3, ttl: 180, mutate: false, rounds: [] };
for (let i = 0; i < args.length; i++) {
  const a = args[i];
  const next = () => {
    if (i + 1 >= args.length) usage(`${a} needs a value`);
    i += 1;
    return args[i];
  };
  if (a === '--url') opt.url = next();
  else if (a === '--ca') opt.ca = next();
  else if (a === '--cert') opt.cert = next();
  else if (a === '--key') opt.key = next();
  else if (a === '--timeout') opt.timeout = Number(next());
  else if (a === '--ttl') opt.ttl = Number(next());
  else if (a === '--mutate') opt.mutate = true;
  else if (a.startsWith('--')) usage(`unknown option ${a}`);
  else opt.rounds.push(a === '' ? [] : a.split(','));
}
if (!opt.url || !opt.ca) usage('--url and --ca are required');

const agent = new https.Agent({
  keepAlive: true,
  maxSockets: 10,
  minVersion: 'TLSv1.3',
  ca: [fs.readFileSync(opt.ca)], // the caBundle only: Node then trusts no system root
  cert: opt.cert ? fs.readFileSync(opt.cert) : undefined,
  key: opt.key ? fs.readFileSync(opt.key) : undefined,
});
const sockets = new Set();

// One ProviderRequest; resolves {status, body} or {error}.
function send(keys) {
  const body = JSON.stringify({
    apiVersion: 'externaldata.gatekeeper.sh/v1beta1',
    kind: 'ProviderRequest',
    request: { keys },
  });
  return new Promise((resolve) => {
    const req = https.request(opt.url, {
      method: 'POST',
      agent,
      headers: { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) },
      timeout: opt.timeout * 1000,
    });
    const timer = setTimeout(() => req.destroy(new Error('context deadline exceeded')), opt.timeout * 1000);
    req.on('socket', (s) => sockets.add(s));
    req.on('timeout', () => req.destroy(new Error('Client.Timeout exceeded')));
    req.on('error', (e) => {
      clearTimeout(timer);
      resolve({ error: e.message });
    });
    req.on('response', (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        clearTimeout(timer);
        try {
          resolve({ status: res.statusCode, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) });
        } catch (e) {
          resolve({ error: `invalid character in response: ${e.message}` });
        }
      });
    });
    req.end(body);
  });
}

const cache = new Map(); // key -> {received, value, error}

async function validationRound(keys) {
  const now = Date.now();
  const fresh = (k) => cache.has(k) && now - cache.get(k).received < opt.ttl * 1000;
  const sent = [...new Set(keys.filter((k) => !fresh(k)))];
  const rego = { responses: [], errors: [], status_code: 0, system_error: '' };
  if (sent.length > 0) {
    const r = await send(sent);
    if (r.error !== undefined) {
      rego.status_code = 500;
      rego.system_error = r.error;
    } else {
      rego.status_code = r.status;
      const resp = (r.body && r.body.response) || {};
      rego.system_error = typeof resp.systemError === 'string' ? resp.systemError : '';
      for (const it of Array.isArray(resp.items) ? resp.items : []) {
        if (it && typeof it.key === 'string') {
          cache.set(it.key, { received: now, value: it.value, error: typeof it.error === 'string' ? it.error : '' });
        }
      }
    }
  }
  // the Rego value: every asked key that is cached (fresh), in the order asked
  for (const k of keys) {
    if (!fresh(k)) continue;
    const c = cache.get(k);
    if (c.error !== '') rego.errors.push([k, c.error]);
    else rego.responses.push([k, c.value]);
  }
  const deny = [];
  if (rego.system_error !== '') deny.push(`system_error: ${rego.system_error}`);
  for (const [k, e] of rego.errors) deny.push(`error: ${k}: ${e}`);
  const seen = new Set([...rego.responses.map((x) => x[0]), ...rego.errors.map((x) => x[0])]);
  for (const k of keys) if (!seen.has(k)) deny.push(`no answer: ${k}`);
  for (const [k, v] of rego.responses) {
    if (!v || v.allowed !== true) deny.push(`not allowed: ${k}: ${v && v.reason}`);
  }
  return { rego, sent, deny };
}

async function mutationRound(keys) {
  const sent = [...new Set(keys)];
  const out = { values: {}, failed: null, sent };
  const r = await send(sent);
  if (r.error !== undefined) {
    out.failed = r.error;
    return out;
  }
  const resp = (r.body && r.body.response) || {};
  if (typeof resp.systemError === 'string' && resp.systemError !== '') {
    out.failed = `non-empty system error: ${resp.systemError}`;
    return out;
  }
  if (resp.idempotent !== true) {
    out.failed = 'non-idempotent response';
    return out;
  }
  const items = new Map();
  for (const it of Array.isArray(resp.items) ? resp.items : []) items.set(it.key, it);
  for (const k of keys) {
    const it = items.get(k);
    if (!it) out.values[k] = { failed: 'failed to find external data item' };
    else if (typeof it.error === 'string' && it.error !== '') out.values[k] = { failed: it.error };
    else if (typeof it.value !== 'string') out.values[k] = { failed: 'value is not a string' };
    else out.values[k] = it.value;
  }
  return out;
}

(async () => {
  for (const keys of opt.rounds) {
    const res = opt.mutate ? await mutationRound(keys) : await validationRound(keys);
    res.sockets = sockets.size;
    process.stdout.write(`${JSON.stringify(res)}\n`);
  }
  agent.destroy();
})();
