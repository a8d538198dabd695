#!/usr/bin/env node
'use strict';
// apicall.js -- Kyverno's context.apiCall.service, emulated from its source (kyverno/kyverno
// pkg/engine/apicall/{apiCall,executor,httpclient}.go, api/kyverno/v1/common_types.go;
// summarized in ../shared/reference/admission-surfaces.md, section 4.1), running the shipped
// ClusterPolicy (integration/k8s/server/kyverno-policy.yaml) against one Pod:
//   - per foreach element, the body is the JSON encoding of the `data` map ({key: value}),
//     sent with the policy's method and NO Content-Type header (executor.go sets none), and
//     Authorization: Bearer <Kyverno's scoped token>;
//   - TLS 1.2 minimum, the policy's caBundle as the only root, no client certificate;
//   - a 2xx answer's JSON body is stored under the context name; anything else is the error
//     "HTTP <status>: <body>", and then `default` is stored instead if the policy sets one
//     (otherwise the rule errors);
//   - the deny conditions are then evaluated on the stored value.
// The policy's service URL keeps its path; its scheme, host and port become --base (the test
// server), and its caBundle placeholder becomes --ca.
//
//   node apicall.js --policy FILE --base https://127.0.0.1:PORT --ca FILE POD.json
// Prints {"results": [{image, status, error, usedDefault, value, denied}], "denied": BOOL}.

const fs = require('node:fs');
const https = require('node:https');
const path = require('node:path');

const YAML = require(path.join(__dirname, '..', 'k8s', 'validate', 'node_modules', 'yaml'));

function usage(msg) {
  process.stderr.write(`apicall.js: ${msg}\n`);
  process.exit(2);
}
const args = process.argv.slice(2);
const opt = {};
for (let i = 0; i < args.length; i++) {
  const a = args[i];
  if (a === '--policy' || a === '--base' || a === '--ca') {
    if (i + 1 >= args.length) usage(`${a} needs a value`);
    opt[a.slice(2)] = args[++i];
  } else if (a.startsWith('--')) usage(`unknown option ${a}`);
  else opt.pod = a;
}
if (!opt.policy || !opt.base || !opt.ca || !opt.pod) usage('--policy, --base, --ca and POD.json are required');

const policy = YAML.parse(fs.readFileSync(opt.policy, 'utf8'));
const pod = JSON.parse(fs.readFileSync(opt.pod, 'utf8'));
const rule = policy.spec.rules[0];
const fe = rule.validate.foreach[0];
if (fe.list !== 'request.object.spec.[containers, initContainers, ephemeralContainers][]') {
  usage(`unsupported foreach list ${fe.list}`);
}
const ctx = fe.context[0];
const call = ctx.apiCall;
const svc = new URL(call.service.url);
const url = `${opt.base}${svc.pathname}${svc.search}`;
const elements = ['containers', 'initContainers', 'ephemeralContainers'].flatMap((f) => pod.spec[f] || []);

// the only template form the shipped policy uses
function render(v, element) {
  if (typeof v !== 'string') return v;
  const m = /^\{\{\s*element\.image\s*\}\}$/.exec(v);
  if (m) return element.image;
  if (v.includes('{{')) usage(`unsupported template ${v}`);
  return v;
}

function post(body) {
  const data = JSON.stringify(body);
  return new Promise((resolve) => {
    const req = https.request(url, {
      method: call.method || 'GET',
      ca: [fs.readFileSync(opt.ca)],
      minVersion: 'TLSv1.2',
      headers: { Authorization: 'Bearer kyverno-scoped-token', 'Content-Length': Buffer.byteLength(data) },
      timeout: 30000,
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (e) => resolve({ status: 0, error: e.message }));
    req.on('response', (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        if (res.statusCode < 200 || res.statusCode > 299) {
          resolve({ status: res.statusCode, error: `HTTP ${res.statusCode} ${res.statusMessage}: ${text}` });
          return;
        }
        try {
          resolve({ status: res.statusCode, value: JSON.parse(text) });
        } catch (e) {
          resolve({ status: res.statusCode, error: `failed to parse response: ${e.message}` });
        }
      });
    });
    req.end(data);
  });
}

function denied(value) {
  for (const c of fe.deny.conditions.any) {
    if (c.key !== `{{ ${ctx.name}.allowed }}` || c.operator !== 'NotEquals') usage(`unsupported condition ${JSON.stringify(c)}`);
    const got = value === null || value === undefined ? undefined : value.allowed;
    if (got !== c.value) return true;
  }
  return false;
}

(async () => {
  const results = [];
  for (const el of elements) {
    const body = {};
    for (const d of call.data || []) body[d.key] = render(d.value, el);
    const r = await post(body);
    let value = r.value;
    let usedDefault = false;
    if (r.error !== undefined) {
      if (call.default === undefined) {
        results.push({ image: el.image, status: r.status, error: r.error, usedDefault, value: null, denied: true, ruleError: true });
        continue;
      }
      value = call.default;
      usedDefault = true;
    }
    results.push({ image: el.image, status: r.status, error: r.error || null, usedDefault, value, denied: denied(value) });
  }
  process.stdout.write(`${JSON.stringify({ results, denied: results.some((x) => x.denied) })}\n`);
})();
