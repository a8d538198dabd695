#!/usr/bin/env node
// validate.mjs -- checks Kubernetes YAML files against the published schemas of the
// API server's built-in types, Gatekeeper, Kyverno, cert-manager and Ratify, as the
// API server would check them with strict field validation (kubectl's default,
// --validate=strict): unknown fields, wrong types, missing required fields, enums,
// patterns and formats all fail.
//
//   node validate.mjs [--schemas DIR] FILE_OR_DIR...
//
// Where the schemas come from (testdata/k8s-schemas/SOURCES.md names every source):
//  - without --schemas: the npm packages of package.json, installed from the committed
//    package-lock.json (ensure-modules.sh): kubernetes-models for the built-in kinds,
//    @kubernetes-models/cert-manager and @kubernetes-models/kyverno for those CRDs. No npm
//    package carries the Gatekeeper or Ratify schemas: documents of those kinds (DIR_ONLY
//    below) are reported as "skip", never as "ok"; any other kind without a schema fails.
//  - with --schemas DIR: every kind from DIR, what extract-schemas.mjs wrote from the
//    upstream repositories at pinned commits; nothing is skipped.
// Every YAML document of every file (directories: every *.yaml below them) must validate;
// the exit status is 1 if any does not, 2 on a usage or schema error. One line per
// document: "ok FILE#N apiVersion kind name", "FAIL FILE#N ...: reasons" or
// "skip FILE#N ...: why".
//
// How each document is checked:
//  - YAML: the yaml package, YAML 1.1 (the Kubernetes reader, sigs.k8s.io/yaml, is go-yaml
//    v2: `on`, `yes` are booleans), duplicate keys and any parse error or warning fail.
//  - apiVersion/kind picks the schema.
//    From DIR: built-in kinds: the definition carrying that x-kubernetes-group-version-kind
//    in the Kubernetes OpenAPI (v2) spec, $refs resolved. Custom kinds: the CRD's
//    openAPIV3Schema of that served version, read as the API server reads a structural
//    schema: an object schema without x-kubernetes-preserve-unknown-fields admits only its
//    listed properties (the fields the server would prune or, strict, refuse);
//    x-kubernetes-int-or-string, nullable and x-kubernetes-embedded-resource as documented;
//    apiVersion, kind and metadata (ObjectMeta from the Kubernetes spec) at the root.
//    Gatekeeper Constraint kinds: the CRD Gatekeeper generates from the ConstraintTemplate
//    that names the kind (one in the files checked, or Ratify's library template in DIR),
//    built as open-policy-agent/frameworks constraint/pkg/client/crds/schema.go CreateSchema
//    builds it.
//    From npm: the packages ship each schema compiled by ajv into a validate function
//    (kubernetes-models since 4.4.0), not as JSON, with every x-kubernetes-* key removed and
//    `nullable` added to optional fields. That function checks types, formats, enums,
//    patterns and required fields; it lets unknown fields through. The structural rule is
//    applied by watching it (npmCheck): it reads every property its schema lists and
//    enumerates the keys of maps only, so a key of an object that it never read is a field
//    the schema does not have, and fails. An object whose schema lists no property is read
//    not at all and stays open: after the packages dropped x-kubernetes-preserve-unknown-
//    fields, an open object and a closed empty one look alike. Where a schema lists
//    properties and also preserves unknown fields (Kyverno's foreach preconditions), npm
//    refuses what DIR would let through. metadata is required at the root, as from DIR.
//    An unknown apiVersion/kind fails.
//  - A document without apiVersion/kind fails unless its file starts with a directive comment:
//      # validate: patch APIVERSION KIND   (a strategic-merge patch: the kind's schema with
//                                           no field required; unknown fields still fail)
//      # validate: helm-values ratify-1.15.0  (every key path must exist in the chart's
//                                           published values.yaml, with the same JSON type;
//                                           DIR only)
//  - metadata.name: a DNS-1123 subdomain; Namespace a DNS-1123 label, Service a DNS-1035 label
//    (the API server's name rules, apimachinery ValidateObjectMeta; not in any schema).
// Not checked (no evaluator here): x-kubernetes-validations (CEL) rules and the API server's
// Go validation beyond the schema; the count of CEL rules met in DIR's schemas is printed
// (the npm packages drop them).
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import Ajv from 'ajv';
import addFormats from 'ajv-formats';
import localizeEn from 'ajv-i18n/localize/en/index.js';
import { parseAllDocuments } from 'yaml';

const K8S_REF = 'k8s.json#/definitions/';
const OBJECT_META = 'io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta';

function usage(msg) {
  process.stderr.write(`validate.mjs: ${msg}\nusage: node validate.mjs [--schemas DIR] FILE_OR_DIR...\n`);
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

// ---- schemas from the npm packages (no --schemas) ----------------------------------------------
const NODE_MODULES = join(dirname(fileURLToPath(import.meta.url)), 'node_modules');

// apiVersion kind -> the package whose model of that kind supplies the schema: the same kinds
// extract-schemas.mjs keeps, wherever an npm package carries them.
const NPM_KINDS = {
  'v1 Namespace': 'kubernetes-models',
  'v1 ConfigMap': 'kubernetes-models',
  'v1 Secret': 'kubernetes-models',
  'v1 Service': 'kubernetes-models',
  'v1 ServiceAccount': 'kubernetes-models',
  'apps/v1 Deployment': 'kubernetes-models',
  'policy/v1 PodDisruptionBudget': 'kubernetes-models',
  'admissionregistration.k8s.io/v1 ValidatingWebhookConfiguration': 'kubernetes-models',
  'admissionregistration.k8s.io/v1 MutatingWebhookConfiguration': 'kubernetes-models',
  'cert-manager.io/v1 Certificate': '@kubernetes-models/cert-manager',
  'cert-manager.io/v1 Issuer': '@kubernetes-models/cert-manager',
  'kyverno.io/v1 ClusterPolicy': '@kubernetes-models/kyverno',
};

// What only --schemas DIR has, because no npm package carries it (testdata/k8s-schemas/README.md):
// the served versions of these CRDs, the Constraint kinds (their CRD embeds Gatekeeper's Match
// schema), Ratify's library ConstraintTemplate and the Ratify chart's values.yaml. Without DIR a
// document of these is a "skip"; a misspelt kind or version is not among them and fails.
const DIR_ONLY = new Set([
  ...['v1alpha1', 'v1beta1'].map((v) => `externaldata.gatekeeper.sh/${v} Provider`),
  ...['v1', 'v1alpha1', 'v1beta1'].map((v) => `templates.gatekeeper.sh/${v} ConstraintTemplate`),
  ...['v1', 'v1alpha1', 'v1beta1'].map((v) => `mutations.gatekeeper.sh/${v} Assign`),
  ...['Verifier', 'Store', 'Policy'].flatMap((k) => ['v1alpha1', 'v1beta1'].map((v) => `config.ratify.deislabs.io/${v} ${k}`)),
]);
const DIR_ONLY_TEMPLATE_KINDS = ['RatifyVerification']; // notaryproject/ratify library/default/template.yaml
const DIR_ONLY_HELM = ['ratify-1.15.0'];
const CONSTRAINT_VERSIONS = ['v1beta1', 'v1alpha1', 'v1'];

// the compiled validate function of apiVersion kind: the _schemas module the package's model
// file for that kind imports (the packages export no table of schema ids)
async function npmValidator(key) {
  const [apiVersion, kind] = key.split(' ');
  const model = join(NODE_MODULES, NPM_KINDS[key], ...apiVersion.split('/'), `${kind}.js`);
  const m = /from\s*"((?:\.\.\/)+_schemas\/[A-Za-z0-9]+\.js)"/.exec(readFileSync(model, 'utf8'));
  if (!m) throw new Error(`${model}: imports no _schemas module`);
  const cls = (await import(pathToFileURL(model).href))[kind];
  if (cls?.apiVersion !== apiVersion || cls?.kind !== kind) throw new Error(`${model}: not the model of ${key}`);
  const { validate } = await import(pathToFileURL(join(dirname(model), m[1])).href);
  if (typeof validate !== 'function') throw new Error(`${m[1]}: exports no validate function`);
  return validate;
}

const pointer = (k) => k.replace(/~/g, '~0').replace(/\//g, '~1');

// Runs a compiled validate function on a proxy of doc that records, for each object, the keys
// the function reads and whether it enumerated them; returns ajv-style errors, the ones of the
// function plus "must NOT have additional properties" for every key that it never read of an
// object of which it read some (see the header). partial: no field required.
function npmCheck(validate, doc, partial) {
  const nodes = [];
  const proxies = new WeakMap();
  const wrap = (value, path) => {
    if (value === null || typeof value !== 'object') return value;
    if (proxies.has(value)) return proxies.get(value);
    const node = { path, value, read: new Set(), enumerated: false };
    nodes.push(node);
    const proxy = new Proxy(value, {
      get(t, k, r) {
        if (typeof k !== 'string') return Reflect.get(t, k, r);
        node.read.add(k);
        const v = Reflect.get(t, k, r);
        return Object.hasOwn(t, k) ? wrap(v, `${path}/${pointer(k)}`) : v;
      },
      has(t, k) {
        if (typeof k === 'string') node.read.add(k);
        return Reflect.has(t, k);
      },
      ownKeys(t) {
        node.enumerated = true;
        return Reflect.ownKeys(t);
      },
      getOwnPropertyDescriptor(t, k) {
        node.enumerated = true;
        return Reflect.getOwnPropertyDescriptor(t, k);
      },
    });
    proxies.set(value, proxy);
    return proxy;
  };
  let errs = validate(wrap(doc, '')) ? [] : [...validate.errors];
  if (partial) errs = errs.filter((e) => e.keyword !== 'required');
  else if (doc.metadata === undefined) {
    errs.push({ instancePath: '', keyword: 'required', params: { missingProperty: 'metadata' } });
  }
  localizeEn(errs);
  for (const n of nodes) {
    if (Array.isArray(n.value) || n.enumerated || n.read.size === 0) continue;
    for (const k of Object.keys(n.value)) {
      if (!n.read.has(k)) {
        errs.push({ instancePath: n.path, message: 'must NOT have additional properties', params: { additionalProperty: k } });
      }
    }
  }
  return errs;
}

// the schema source of the npm packages: { has(key), check(key, partial, doc), skips(key) }
async function npmSource(fileTemplateKinds) {
  const validators = new Map();
  const dirOnly = new Set(DIR_ONLY);
  for (const k of [...DIR_ONLY_TEMPLATE_KINDS, ...fileTemplateKinds]) {
    for (const v of CONSTRAINT_VERSIONS) dirOnly.add(`constraints.gatekeeper.sh/${v} ${k}`);
  }
  const versions = Object.fromEntries([...new Set(Object.values(NPM_KINDS))].map((p) =>
    [p, readJSON(join(NODE_MODULES, p, 'package.json')).version]));
  return {
    has: (key) => Object.hasOwn(NPM_KINDS, key),
    hasPartial: (key) => Object.hasOwn(NPM_KINDS, key),
    async check(key, partial, doc) {
      if (!validators.has(key)) validators.set(key, await npmValidator(key));
      return npmCheck(validators.get(key), doc, partial);
    },
    skips: (key) => dirOnly.has(key),
    helm: {},
    skipsHelm: (name) => DIR_ONLY_HELM.includes(name),
    summary: () => `schemas from npm: ${Object.entries(versions).map(([p, v]) => `${p}@${v}`).join(', ')}`,
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

// ---- schemas from --schemas DIR ------------------------------------------------------------------
// the schema source of DIR (extract-schemas.mjs): { has(key), check(key, partial, doc), ... };
// fileTemplates: the ConstraintTemplates among the documents checked
function dirSource(dir, fileTemplates) {
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
  const helm = { 'ratify-1.15.0': readJSON(join(dir, 'helm/ratify-1.15.0-values.json')) };
  delete helm['ratify-1.15.0']['x-source'];

  const templates = [readJSON(join(dir, 'templates/ratifyverification.json')), ...fileTemplates];
  for (const t of templates) {
    const kind = t.spec?.crd?.spec?.names?.kind;
    if (typeof kind !== 'string') continue;
    const s = constraintSchema(t, matchSchema);
    const meta = { properties: { name: { type: 'string', maxLength: 63 } } };
    for (const v of CONSTRAINT_VERSIONS) {
      schemas.set(`constraints.gatekeeper.sh/${v} ${kind}`, { full: crdRoot(s, 'constraints.gatekeeper.sh', v, kind, meta) });
    }
  }

  const compiled = new Map();
  return {
    has: (key) => schemas.has(key),
    hasPartial: (key) => Boolean(schemas.get(key)?.partial),
    async check(key, partial, doc) {
      const variant = partial ? 'partial' : 'full';
      const ck = `${key}|${variant}`;
      if (!compiled.has(ck)) compiled.set(ck, ajv.compile(schemas.get(key)[variant]));
      const fn = compiled.get(ck);
      return fn(doc) ? [] : fn.errors;
    },
    skips: () => false,
    helm,
    skipsHelm: () => false,
    summary: () => `schemas from ${dir}; ${stats.cel} CEL rules (x-kubernetes-validations) in them, not evaluated`,
  };
}

// ---- main ---------------------------------------------------------------------------------------
const errText = (e) => `${e.instancePath || '/'} ${e.message}${e.params?.additionalProperty ? `: ${e.params.additionalProperty}` : ''}${e.params?.allowedValues ? `: ${e.params.allowedValues.join(', ')}` : ''}`;
const SKIP_WHY = 'no npm package carries its schema: checked only with --schemas DIR (testdata/k8s-schemas/README.md)';

async function main() {
  const argv = process.argv.slice(2);
  let dir = null;
  const inputs = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--schemas') {
      dir = argv[++i];
      if (!dir) usage('--schemas wants a directory');
    } else if (argv[i].startsWith('--')) usage(`unknown option ${argv[i]}`);
    else inputs.push(argv[i]);
  }
  if (!inputs.length) usage('at least one file or directory is required');

  // every file read first: ConstraintTemplates among them define Constraint kinds
  const files = inputs.flatMap(yamlFiles);
  const read = files.map((f) => {
    try { return { f, ...readDocs(f) }; } catch (e) { return { f, err: e.message }; }
  });
  const fileTemplates = [];
  for (const r of read) {
    for (const d of r.docs || []) {
      if (d?.kind === 'ConstraintTemplate' && String(d.apiVersion).startsWith('templates.gatekeeper.sh/')) fileTemplates.push(d);
    }
  }
  const src = dir ? dirSource(dir, fileTemplates)
    : await npmSource(fileTemplates.map((t) => t.spec?.crd?.spec?.names?.kind).filter((k) => typeof k === 'string'));

  let failed = 0;
  let skipped = 0;
  let count = 0;
  for (const r of read) {
    const rel = relative(process.cwd(), r.f) || r.f;
    if (r.err) { failed++; process.stdout.write(`FAIL ${rel}: ${r.err}\n`); continue; }
    if (!r.docs.length) { failed++; process.stdout.write(`FAIL ${rel}: no YAML document\n`); continue; }
    for (const [i, doc] of r.docs.entries()) {
      count++;
      const where = `${rel}#${i + 1}`;
      let errs = [];
      let what = '';
      let skip = false;
      if (doc && typeof doc === 'object' && !Array.isArray(doc) && 'apiVersion' in doc && 'kind' in doc) {
        const key = `${doc.apiVersion} ${doc.kind}`;
        what = `${key} ${doc.metadata?.name ?? ''}`.trim();
        if (src.has(key)) errs = [...(await src.check(key, false, doc)).map(errText), ...nameErrors(doc)];
        else if (src.skips(key)) { errs = nameErrors(doc); skip = true; }
        else errs = [`no schema for apiVersion ${JSON.stringify(doc.apiVersion)} kind ${JSON.stringify(doc.kind)}`];
      } else if (r.directive) {
        const w = r.directive.split(/\s+/);
        const key = `${w[1]} ${w[2]}`;
        if (w[0] === 'patch' && w.length === 3 && src.hasPartial(key)) {
          what = `patch of ${key}`;
          errs = (await src.check(key, true, { apiVersion: w[1], kind: w[2], ...doc })).map(errText);
        } else if (w[0] === 'patch' && w.length === 3 && src.skips(key)) {
          what = `patch of ${key}`;
          skip = true;
        } else if (w[0] === 'helm-values' && w.length === 2 && Object.hasOwn(src.helm, w[1])) {
          what = `helm values of ${w[1]}`;
          errs = helmErrors(doc, src.helm[w[1]]);
        } else if (w[0] === 'helm-values' && w.length === 2 && src.skipsHelm(w[1])) {
          what = `helm values of ${w[1]}`;
          skip = true;
        } else errs = [`directive not understood: "# validate: ${r.directive}"`];
      } else errs = ['no apiVersion/kind, and no "# validate:" directive saying what it is'];
      if (errs.length) {
        failed++;
        process.stdout.write(`FAIL ${where} ${what}: ${errs.join('; ')}\n`);
      } else if (skip) {
        skipped++;
        process.stdout.write(`skip ${where} ${what}: ${SKIP_WHY}\n`);
      } else process.stdout.write(`ok ${where} ${what}\n`);
    }
  }
  process.stdout.write(`# ${count} documents in ${files.length} files, ${failed} failed, ${skipped} skipped; ${src.summary()}\n`);
  return failed ? 1 : 0;
}

try {
  process.exit(await main());
} catch (e) {
  process.stderr.write(`validate.mjs: ${e.stack || e.message}\n`);
  process.exit(2);
}
