#!/usr/bin/env node
// validate.mjs -- checks Kubernetes YAML files against the published schemas of the
// API server's built-in types, Gatekeeper, Kyverno, cert-manager and Ratify, as the
// API server would check them with strict field validation (kubectl's default,
// --validate=strict): unknown fields, wrong types, missing required fields, enums,
// patterns and formats all fail.
//
//   node validate.mjs --schemas DIR FILE_OR_DIR...
//
// DIR is what extract-schemas.mjs wrote (its SOURCES.md names every source). Every YAML
// document of every file (directories: every *.yaml below them) must validate; the
// exit status is 1 if any does not, 2 on a usage or schema error. One line per
// document: "ok FILE#N apiVersion kind name" or "FAIL FILE#N ...: reasons".
//
// How each document is checked:
//  - YAML: the yaml package, YAML 1.1 (the Kubernetes reader, sigs.k8s.io/yaml, is go-yaml
//    v2: `on`, `yes` are booleans), duplicate keys and any parse error or warning fail.
//  - apiVersion/kind picks the schema. Built-in kinds: the definition carrying that
//    x-kubernetes-group-version-kind in the Kubernetes OpenAPI (v2) spec, $refs resolved.
//    Custom kinds: the CRD's openAPIV3Schema of that served version, read as the API server
//    reads a structural schema: an object schema without x-kubernetes-preserve-unknown-fields
//    admits only its listed properties (the fields the server would prune or, strict,
//    refuse); x-kubernetes-int-or-string, nullable and x-kubernetes-embedded-resource as
//    documented; apiVersion, kind and metadata (ObjectMeta from the Kubernetes spec) at the root.
//    Gatekeeper Constraint kinds: the CRD Gatekeeper generates from the ConstraintTemplate that
//    names the kind (one in the files checked, or Ratify's library template in DIR), built as
//    open-policy-agent/frameworks constraint/pkg/client/crds/schema.go CreateSchema builds it.
//    An unknown apiVersion/kind fails.
//  - A document without apiVersion/kind fails unless its file starts with a directive comment:
//      # validate: patch APIVERSION KIND   (a strategic-merge patch: the kind's schema with
//                                           no field required; unknown fields still fail)
//      # validate: helm-values ratify-1.15.0  (every key path must exist in the chart's
//                                           published values.yaml, with the same JSON type)
//  - metadata.name: a DNS-1123 subdomain; Namespace a DNS-1123 label, Service a DNS-1035 label
//    (the API server's name rules, apimachinery ValidateObjectMeta; not in any schema).
// Not checked (no evaluator here): x-kubernetes-validations (CEL) rules and the API server's
// Go validation beyond the schema; the count of CEL rules met is printed.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import Ajv from 'ajv';
import addFormats from 'ajv-formats';
import { parseAllDocuments } from 'yaml';

const K8S_REF = 'k8s.json#/definitions/';
const OBJECT_META = 'io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta';

function usage(msg) {
  process.stderr.write(`validate.mjs: ${msg}\nusage: node validate.mjs --schemas DIR FILE_OR_DIR...\n`);
  process.exit(2);
}

const readJSON = (p) => JSON.parse(readFileSync(p, 'utf8'));

// ---- Kubernetes OpenAPI v2 definitions -> JSON Schema ---------------------------------------
// IntOrString and Quantity are strings in the spec but the API server's decoders take
// numbers too (intstr.IntOrString.UnmarshalJSON, resource.Quantity.UnmarshalJSON).
const SPECIAL_DEFS = {
  'io.k8s.apimachinery.pkg.util.intstr.IntOrString': { anyOf: [{ type: 'integer' }, { type: 'string' }] },
  'io.k8s.apimachinery.pkg.api.resource.Quantity': { anyOf: [{ type: 'string' }, { type: 'number' }] },
};

function k8sNode(s, partial) {
  if (Array.isArray(s)) return s.map((x) => k8sNode(x, partial));
  if (s === null || typeof s !== 'object') return s;
  const o = {};
  for (const [k, v] of Object.entries(s)) {
    if (k === '$ref') o.$ref = v.replace('#/definitions/', partial ? 'k8s-partial.json#/definitions/' : K8S_REF);
    else if (k === 'properties') {
      o.properties = {};
      for (const [p, ps] of Object.entries(v)) o.properties[p] = k8sNode(ps, partial);
    } else if (k === 'items' || k === 'additionalProperties') o[k] = typeof v === 'object' ? k8sNode(v, partial) : v;
    else if (k === 'required') { if (!partial) o.required = v; } else if (['type', 'format', 'enum', 'minimum', 'maximum',
      'minLength', 'maxLength', 'minItems', 'maxItems', 'pattern', 'uniqueItems'].includes(k)) o[k] = v;
    // description, default, x-kubernetes-* (list/map/patch metadata, GVK): no effect on validity
  }
  // strict field validation: an object that lists its fields admits no others
  if (o.properties && o.additionalProperties === undefined) o.additionalProperties = false;
  return o;
}

function k8sDefinitions(spec, partial) {
  const defs = {};
  for (const [n, d] of Object.entries(spec.definitions)) defs[n] = SPECIAL_DEFS[n] || k8sNode(d, partial);
  return { $id: partial ? 'k8s-partial.json' : 'k8s.json', definitions: defs };
}

// ---- CRD structural schemas -> JSON Schema ---------------------------------------------------
const stats = { cel: 0 };
const COPY = ['enum', 'pattern', 'minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum',
  'minLength', 'maxLength', 'minItems', 'maxItems', 'uniqueItems', 'multipleOf', 'required',
  'minProperties', 'maxProperties', 'format'];
const IGNORE = ['description', 'title', 'default', 'example', 'externalDocs',
  'x-kubernetes-list-type', 'x-kubernetes-list-map-keys', 'x-kubernetes-map-type'];

// junctor: inside allOf/anyOf/oneOf/not, where a structural schema only constrains values
// and never decides which fields exist
function crdNode(s, junctor) {
  const o = {};
  let type = s.type;
  const preserve = s['x-kubernetes-preserve-unknown-fields'] === true;
  for (const [k, v] of Object.entries(s)) {
    if (k === 'type' || k === 'nullable' || k === 'x-kubernetes-preserve-unknown-fields' ||
        k === 'x-kubernetes-int-or-string' || k === 'x-kubernetes-embedded-resource') continue;
    if (k === 'properties') {
      o.properties = {};
      for (const [p, ps] of Object.entries(v)) o.properties[p] = crdNode(ps, junctor);
    } else if (k === 'items') o.items = crdNode(v, junctor);
    else if (k === 'additionalProperties') o.additionalProperties = typeof v === 'object' ? crdNode(v, junctor) : v;
    else if (k === 'allOf' || k === 'anyOf' || k === 'oneOf') o[k] = v.map((x) => crdNode(x, true));
    else if (k === 'not') o.not = crdNode(v, true);
    else if (k === 'x-kubernetes-validations') stats.cel += v.length;
    else if (COPY.includes(k)) o[k] = v;
    else if (!IGNORE.includes(k)) throw new Error(`CRD schema keyword not understood: ${k}`);
  }
  if (s['x-kubernetes-int-or-string'] === true) {
    o.anyOf = [...(o.anyOf || []), { type: 'integer' }, { type: 'string' }];
    type = undefined;
  }
  if (type !== undefined) o.type = s.nullable === true ? [type, 'null'] : type;
  if (s['x-kubernetes-embedded-resource'] === true) {
    o.properties = { apiVersion: { type: 'string' }, kind: { type: 'string' },
      metadata: { $ref: K8S_REF + OBJECT_META }, ...(o.properties || {}) };
  }
  // structural: an object without preserve-unknown-fields keeps only its listed properties
  if (!junctor && !preserve && type === 'object' && o.additionalProperties === undefined) {
    o.additionalProperties = false;
  }
  return o;
}

// the root of a custom resource: apiVersion, kind, metadata always there and checked
function crdRoot(schema, group, version, kind, extraMeta) {
  const o = crdNode(schema, false);
  o.type = 'object';
  o.properties = { ...(o.properties || {}) };
  o.properties.apiVersion = { const: `${group}/${version}` };
  o.properties.kind = { const: kind };
  o.properties.metadata = extraMeta ? { allOf: [{ $ref: K8S_REF + OBJECT_META }, extraMeta] }
    : { $ref: K8S_REF + OBJECT_META };
  o.required = [...new Set([...(o.required || []), 'apiVersion', 'kind', 'metadata'])];
  return o;
}

// open-policy-agent/frameworks constraint/pkg/schema/transform.go AddPreserveUnknownFields
function addPreserve(s) {
  const o = { ...s };
  if (o.type === undefined || o.type === 'object') o['x-kubernetes-preserve-unknown-fields'] = true;
  if (o.type === 'array' && !o.items) o.items = { 'x-kubernetes-preserve-unknown-fields': true };
  if (o.properties) {
    o.properties = Object.fromEntries(Object.entries(o.properties).map(([k, v]) => [k, addPreserve(v)]));
  }
  if (o.items) o.items = addPreserve(o.items);
  if (o.additionalProperties && typeof o.additionalProperties === 'object') {
    o.additionalProperties = addPreserve(o.additionalProperties);
  }
  return o;
}

// open-policy-agent/frameworks constraint/pkg/client/crds/schema.go CreateSchema (pinned in
// SOURCES.md), with the Match schema Gatekeeper passes in (pkg/target/match_schema.go: the
// embeddedMatch property of config/crd/bases/match.gatekeeper.sh_matchcrd.yaml)
function constraintSchema(template, matchSchema) {
  const props = {
    match: matchSchema,
    enforcementAction: { type: 'string' },
    scopedEnforcementActions: {
      type: 'array',
      items: { type: 'object', properties: {
        action: { type: 'string' },
        enforcementPoints: { type: 'array', items: { type: 'object', properties: { name: { type: 'string' } } } },
      } },
    },
  };
  const v = template.spec?.crd?.spec?.validation;
  if (v?.openAPIV3Schema) {
    // legacySchema defaults to true for templates.gatekeeper.sh v1beta1/v1alpha1, false for v1
    const legacy = v.legacySchema ?? (template.apiVersion !== 'templates.gatekeeper.sh/v1');
    props.parameters = legacy ? addPreserve(v.openAPIV3Schema) : v.openAPIV3Schema;
  }
  return {
    type: 'object',
    properties: {
      spec: { type: 'object', properties: props },
      status: { 'x-kubernetes-preserve-unknown-fields': true },
    },
  };
}

// ---- YAML -------------------------------------------------------------------------------------
function isoDates(v) {
  if (v instanceof Date) return v.toISOString();
  if (Array.isArray(v)) return v.map(isoDates);
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, isoDates(x)]));
  return v;
}

function readDocs(file) {
  const text = readFileSync(file, 'utf8');
  const docs = parseAllDocuments(text, { version: '1.1', uniqueKeys: true, prettyErrors: true });
  const out = [];
  const list = Array.isArray(docs) ? docs : [docs];
  for (const d of list) {
    const bad = [...d.errors, ...d.warnings];
    if (bad.length) throw new Error(`YAML: ${bad[0].message.split('\n')[0]}`);
    const js = isoDates(d.toJS({ maxAliasCount: 0 }));
    if (js != null) out.push(js);
  }
  const m = /^(?:#[^\n]*\n)*?#\s*validate:\s*([^\n]*)\n/.exec(text);
  return { docs: out, directive: m ? m[1].trim() : null };
}

function yamlFiles(p) {
  if (statSync(p).isDirectory()) {
    return readdirSync(p).sort().filter((e) => e !== 'node_modules')
      .flatMap((e) => yamlFiles(join(p, e))).filter((f) => /\.ya?ml$/.test(f));
  }
  return [p];
}

// ---- names (apimachinery/pkg/util/validation) -------------------------------------------------
const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1035_LABEL = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
function nameErrors(doc) {
  const n = doc?.metadata?.name;
  if (typeof n !== 'string') return []; // the schema reports a missing or wrong-typed name
  if (doc.kind === 'Service' && doc.apiVersion === 'v1') {
    return DNS1035_LABEL.test(n) && n.length <= 63 ? [] : [`metadata.name ${JSON.stringify(n)}: not a DNS-1035 label`];
  }
  if (doc.kind === 'Namespace' && doc.apiVersion === 'v1') {
    return DNS1123_LABEL.test(n) && n.length <= 63 ? [] : [`metadata.name ${JSON.stringify(n)}: not a DNS-1123 label`];
  }
  const ok = n.length <= 253 && n.split('.').every((l) => DNS1123_LABEL.test(l) && l.length <= 63);
  return ok ? [] : [`metadata.name ${JSON.stringify(n)}: not a DNS-1123 subdomain`];
}

// ---- helm values against the chart's published defaults ---------------------------------------
const jtype = (v) => (v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v);
function helmErrors(values, defaults, path = '') {
  const errs = [];
  if (jtype(values) !== 'object') return [`${path || '(root)'}: want a map`];
  for (const [k, v] of Object.entries(values)) {
    const p = path ? `${path}.${k}` : k;
    if (!(k in defaults)) { errs.push(`${p}: not a key of the chart's values.yaml`); continue; }
    const d = defaults[k];
    if (d === null) continue; // the chart leaves it open
    if (jtype(d) === 'object' && Object.keys(d).length === 0) continue; // an open map
    if (jtype(v) !== jtype(d)) errs.push(`${p}: the chart's default is ${jtype(d)}, got ${jtype(v)}`);
    else if (jtype(v) === 'object') errs.push(...helmErrors(v, d, p));
  }
  return errs;
}

// ---- main ---------------------------------------------------------------------------------------
function main() {
  const argv = process.argv.slice(2);
  let dir = null;
  const inputs = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--schemas') dir = argv[++i];
    else if (argv[i].startsWith('--')) usage(`unknown option ${argv[i]}`);
    else inputs.push(argv[i]);
  }
  if (!dir || !inputs.length) usage('--schemas DIR and at least one file are required');

  const ajv = new Ajv({ allErrors: true, strict: true, strictRequired: false, strictTypes: false, validateFormats: true });
  addFormats(ajv, ['date-time', 'byte', 'int32', 'int64']);

  const spec = readJSON(join(dir, 'kubernetes/swagger-definitions.json'));
  ajv.addSchema(k8sDefinitions(spec, false));
  ajv.addSchema(k8sDefinitions(spec, true));

  const schemas = new Map(); // "apiVersion kind" -> { full: schemaOrRef, partial: ... }
  for (const [n, d] of Object.entries(spec.definitions)) {
    for (const g of d['x-kubernetes-group-version-kind'] || []) {
      const av = g.group ? `${g.group}/${g.version}` : g.version;
      const pin = { properties: { apiVersion: { const: av }, kind: { const: g.kind } }, required: ['apiVersion', 'kind', 'metadata'] };
      schemas.set(`${av} ${g.kind}`, {
        full: { allOf: [{ $ref: K8S_REF + n }, pin] },
        partial: { allOf: [{ $ref: `k8s-partial.json#/definitions/${n}` }, { properties: pin.properties }] },
      });
    }
  }
  for (const f of readdirSync(join(dir, 'crds')).sort()) {
    const c = readJSON(join(dir, 'crds', f));
    for (const v of c.spec.versions) {
      if (!v.served) continue;
      schemas.set(`${c.spec.group}/${v.name} ${c.spec.names.kind}`,
        { full: crdRoot(v.schema.openAPIV3Schema, c.spec.group, v.name, c.spec.names.kind) });
    }
  }
  const matchCRD = readJSON(join(dir, 'gatekeeper/matchcrd.match.gatekeeper.sh.json'));
  const matchSchema = matchCRD.spec.versions[0].schema.openAPIV3Schema.properties.embeddedMatch;
  const helmDefaults = { 'ratify-1.15.0': readJSON(join(dir, 'helm/ratify-1.15.0-values.json')) };
  delete helmDefaults['ratify-1.15.0']['x-source'];

  // every file read first: ConstraintTemplates among them define Constraint kinds
  const files = inputs.flatMap(yamlFiles);
  const read = files.map((f) => {
    try { return { f, ...readDocs(f) }; } catch (e) { return { f, err: e.message }; }
  });
  const templates = [readJSON(join(dir, 'templates/ratifyverification.json'))];
  for (const r of read) {
    for (const d of r.docs || []) {
      if (d?.kind === 'ConstraintTemplate' && String(d.apiVersion).startsWith('templates.gatekeeper.sh/')) templates.push(d);
    }
  }
  for (const t of templates) {
    const kind = t.spec?.crd?.spec?.names?.kind;
    if (typeof kind !== 'string') continue;
    const s = constraintSchema(t, matchSchema);
    const meta = { properties: { name: { type: 'string', maxLength: 63 } } };
    for (const v of ['v1beta1', 'v1alpha1', 'v1']) {
      schemas.set(`constraints.gatekeeper.sh/${v} ${kind}`, { full: crdRoot(s, 'constraints.gatekeeper.sh', v, kind, meta) });
    }
  }

  let failed = 0;
  let count = 0;
  const compiled = new Map();
  const check = (key, variant, doc) => {
    const ck = `${key}|${variant}`;
    if (!compiled.has(ck)) compiled.set(ck, ajv.compile(schemas.get(key)[variant]));
    const fn = compiled.get(ck);
    if (fn(doc)) return [];
    return fn.errors.map((e) => `${e.instancePath || '/'} ${e.message}${e.params?.additionalProperty ? `: ${e.params.additionalProperty}` : ''}${e.params?.allowedValues ? `: ${e.params.allowedValues.join(', ')}` : ''}`);
  };
  for (const r of read) {
    const rel = relative(process.cwd(), r.f) || r.f;
    if (r.err) { failed++; process.stdout.write(`FAIL ${rel}: ${r.err}\n`); continue; }
    if (!r.docs.length) { failed++; process.stdout.write(`FAIL ${rel}: no YAML document\n`); continue; }
    r.docs.forEach((doc, i) => {
      count++;
      const where = `${rel}#${i + 1}`;
      let errs = [];
      let what = '';
      if (doc && typeof doc === 'object' && !Array.isArray(doc) && 'apiVersion' in doc && 'kind' in doc) {
        const key = `${doc.apiVersion} ${doc.kind}`;
        what = `${key} ${doc.metadata?.name ?? ''}`.trim();
        if (!schemas.has(key)) errs = [`no schema for apiVersion ${JSON.stringify(doc.apiVersion)} kind ${JSON.stringify(doc.kind)}`];
        else errs = [...check(key, 'full', doc), ...nameErrors(doc)];
      } else if (r.directive) {
        const w = r.directive.split(/\s+/);
        if (w[0] === 'patch' && w.length === 3 && schemas.get(`${w[1]} ${w[2]}`)?.partial) {
          what = `patch of ${w[1]} ${w[2]}`;
          errs = check(`${w[1]} ${w[2]}`, 'partial', { apiVersion: w[1], kind: w[2], ...doc });
        } else if (w[0] === 'helm-values' && w.length === 2 && helmDefaults[w[1]]) {
          what = `helm values of ${w[1]}`;
          errs = helmErrors(doc, helmDefaults[w[1]]);
        } else errs = [`directive not understood: "# validate: ${r.directive}"`];
      } else errs = ['no apiVersion/kind, and no "# validate:" directive saying what it is'];
      if (errs.length) {
        failed++;
        process.stdout.write(`FAIL ${where} ${what}: ${errs.join('; ')}\n`);
      } else process.stdout.write(`ok ${where} ${what}\n`);
    });
  }
  process.stdout.write(`# ${count} documents in ${files.length} files, ${failed} failed; ` +
    `${stats.cel} CEL rules (x-kubernetes-validations) in the schemas, not evaluated\n`);
  return failed ? 1 : 0;
}

try {
  process.exit(main());
} catch (e) {
  process.stderr.write(`validate.mjs: ${e.stack || e.message}\n`);
  process.exit(2);
}
