#!/usr/bin/env node
'use strict';
// apiserver.js -- the Kubernetes API server's side of admission webhooks, emulated from its
// source (kubernetes/apiserver pkg/admission/plugin/webhook/{mutating,validating}/dispatcher.go,
// request/admissionreview.go; kubernetes/api admission/v1/types.go; summarized in
// ../shared/reference/admission-surfaces.md, section 3), to call `atcr-verify serve`:
//   - one AdmissionReview (admission.k8s.io/v1) per webhook call: request.uid a fresh UUID,
//     kind/resource/subResource, requestKind/requestResource, name, namespace, operation,
//     userInfo, object (and oldObject for UPDATE), dryRun false, options;
//   - HTTPS with the webhook's caBundle as the only root, the webhook's timeoutSeconds for the
//     whole call; anything but HTTP 200 with a well-formed AdmissionReview of the same
//     apiVersion and kind, response.uid equal to the request's, is a webhook error, which
//     failurePolicy (Fail here) turns into a refusal;
//   - mutating webhooks run first; a patch must be patchType JSONPatch (RFC 6902) and applies
//     to the object (a failing patch is an error); the validating webhook then sees the
//     mutated object and must not return a patch.
//
//   node apiserver.js --base URL --ca FILE [--timeout S] [--operation OP] [--subresource S]
//                     [--no-mutate] OBJECT.json
// Prints one JSON line: {"mutate": {allowed, patch (decoded ops), warnings} | null,
//   "object": the object after mutation, "validate": {allowed, status, warnings},
//   "admitted": BOOL, "error": webhook error text | null}

const crypto = require('node:crypto');
const fs = require('node:fs');
const https = require('node:https');

function usage(msg) {
  process.stderr.write(`apiserver.js: ${msg}\n`);
  process.exit(2);
}

const args = process.argv.slice(2);
const opt = { timeout: 10, operation: 'CREATE', subresource: '', mutate: true };
for (let i = 0; i < args.length; i++) {
  const a = args[i];
  const next = () => {
    if (i + 1 >= args.length) usage(`${a} needs a value`);
    i += 1;
    return args[i];
  };
  if (a === '--base') opt.base = next();
  else if (a === '--ca') opt.ca = next();
  else if (a === '--timeout') opt.timeout = Number(next());
  else if (a === '--operation') opt.operation = next();
  else if (a === '--subresource') opt.subresource = next();
  else if (a === '--no-mutate') opt.mutate = false;
  else if (a.startsWith('--')) usage(`unknown option ${a}`);
  else opt.file = a;
}
if (!opt.base || !opt.ca || !opt.file) usage('--base, --ca and OBJECT.json are required');

// kind -> [group, version, resource]
const RESOURCES = {
  Pod: ['', 'v1', 'pods'],
  PodTemplate: ['', 'v1', 'podtemplates'],
  ReplicationController: ['', 'v1', 'replicationcontrollers'],
  Deployment: ['apps', 'v1', 'deployments'],
  ReplicaSet: ['apps', 'v1', 'replicasets'],
  StatefulSet: ['apps', 'v1', 'statefulsets'],
  DaemonSet: ['apps', 'v1', 'daemonsets'],
  Job: ['batch', 'v1', 'jobs'],
  CronJob: ['batch', 'v1', 'cronjobs'],
  ConfigMap: ['', 'v1', 'configmaps'],
};

const object = JSON.parse(fs.readFileSync(opt.file, 'utf8'));
const [group, version, resource] = RESOURCES[object.kind] || usage(`no resource for kind ${object.kind}`);

function review(obj) {
  const gvk = { group, version, kind: object.kind };
  const gvr = { group, version, resource };
  const del = opt.operation === 'DELETE';
  return {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: crypto.randomUUID(),
      kind: gvk,
      resource: gvr,
      ...(opt.subresource ? { subResource: opt.subresource } : {}),
      requestKind: gvk,
      requestResource: gvr,
      ...(opt.subresource ? { requestSubResource: opt.subresource } : {}),
      name: (obj.metadata && obj.metadata.name) || '',
      namespace: (obj.metadata && obj.metadata.namespace) || 'default',
      operation: opt.operation,
      userInfo: { username: 'system:serviceaccount:kube-system:deployment-controller', uid: 'u-1', groups: ['system:authenticated'] },
      object: del ? null : obj,
      oldObject: opt.operation === 'UPDATE' || del ? obj : null,
      dryRun: false,
      options: {
        apiVersion: 'meta.k8s.io/v1',
        kind: del ? 'DeleteOptions' : opt.operation === 'UPDATE' ? 'UpdateOptions' : 'CreateOptions',
      },
    },
  };
}

function call(path, body) {
  const data = JSON.stringify(body);
  return new Promise((resolve) => {
    const req = https.request(`${opt.base}${path}?timeout=${opt.timeout}s`, {
      method: 'POST',
      ca: [fs.readFileSync(opt.ca)],
      headers: { 'Content-Type': 'application/json', Accept: 'application/json, */*', 'Content-Length': Buffer.byteLength(data) },
    });
    const timer = setTimeout(() => req.destroy(new Error('context deadline exceeded')), opt.timeout * 1000);
    req.on('error', (e) => {
      clearTimeout(timer);
      resolve({ error: e.message });
    });
    req.on('response', (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        clearTimeout(timer);
        if (res.statusCode !== 200) {
          resolve({ error: `failed calling webhook: the server responded with status ${res.statusCode}: ${Buffer.concat(chunks)}` });
          return;
        }
        try {
          resolve({ body: JSON.parse(Buffer.concat(chunks).toString('utf8')) });
        } catch (e) {
          resolve({ error: `received invalid webhook response: ${e.message}` });
        }
      });
    });
    req.end(data);
  });
}

// The checks of request/admissionreview.go (VerifyAdmissionResponse), v1.
function check(rq, r) {
  if (r.error) return r.error;
  const b = r.body;
  if (!b || b.apiVersion !== 'admission.k8s.io/v1' || b.kind !== 'AdmissionReview') {
    return 'expected webhook response of admission.k8s.io/v1, Kind=AdmissionReview';
  }
  if (!b.response || b.response.uid !== rq.request.uid) return 'expected response.uid to match the request';
  if (typeof b.response.allowed !== 'boolean') return 'response.allowed is not a boolean';
  if (b.response.patchType !== undefined && b.response.patchType !== 'JSONPatch') return 'patchType must be JSONPatch';
  if (b.response.patch !== undefined && b.response.patchType === undefined) return 'patch without patchType';
  return null;
}

// RFC 6902, the operations a pinning webhook may send; any failure is an error.
function pointerParts(p) {
  if (typeof p !== 'string' || !p.startsWith('/')) throw new Error(`bad path ${p}`);
  return p.slice(1).split('/').map((t) => t.replace(/~1/g, '/').replace(/~0/g, '~'));
}
function applyPatch(doc, ops) {
  const out = JSON.parse(JSON.stringify(doc));
  for (const op of ops) {
    const parts = pointerParts(op.path);
    const last = parts.pop();
    let parent = out;
    for (const t of parts) {
      if (parent === null || typeof parent !== 'object' || !(t in parent)) throw new Error(`path ${op.path} does not exist`);
      parent = parent[t];
    }
    if (op.op === 'replace') {
      if (parent === null || typeof parent !== 'object' || !(last in parent)) throw new Error(`replace: ${op.path} does not exist`);
      parent[last] = op.value;
    } else if (op.op === 'test') {
      if (JSON.stringify(parent[last]) !== JSON.stringify(op.value)) throw new Error(`test failed at ${op.path}`);
    } else {
      throw new Error(`unexpected op ${op.op}`);
    }
  }
  return out;
}

(async () => {
  const result = { mutate: null, object, validate: null, admitted: false, error: null };
  let obj = object;
  if (opt.mutate) {
    const rq = review(obj);
    const r = await call('/k8s/mutate', rq);
    const err = check(rq, r);
    if (err) {
      result.error = `mutating webhook: ${err}`;
    } else {
      const resp = r.body.response;
      let ops = [];
      if (resp.patch !== undefined) {
        try {
          // Go's base64.StdEncoding: padded, standard alphabet, nothing else
          if (typeof resp.patch !== 'string' || resp.patch.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(resp.patch)) {
            throw new Error('illegal base64 data in response.patch');
          }
          ops = JSON.parse(Buffer.from(resp.patch, 'base64').toString('utf8'));
          obj = applyPatch(obj, ops);
        } catch (e) {
          result.error = `mutating webhook: JSON patch: ${e.message}`;
        }
      }
      result.mutate = { allowed: resp.allowed, patch: ops, warnings: resp.warnings || [] };
      result.object = obj;
      if (!resp.allowed) result.error = result.error || 'mutating webhook denied the request';
    }
  }
  if (result.error === null) {
    const rq = review(obj);
    const r = await call('/k8s/validate', rq);
    const err = check(rq, r);
    if (err) {
      result.error = `validating webhook: ${err}`;
    } else if (r.body.response.patch !== undefined) {
      result.error = 'validating webhook may not return a patch';
    } else {
      const resp = r.body.response;
      result.validate = { allowed: resp.allowed, status: resp.status || null, warnings: resp.warnings || [] };
      result.admitted = resp.allowed === true;
    }
  }
  process.stdout.write(`${JSON.stringify(result)}\n`);
})();
