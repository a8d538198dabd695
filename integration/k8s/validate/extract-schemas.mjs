#!/usr/bin/env node
// extract-schemas.mjs -- writes the published schemas that validate.mjs checks
// integration/k8s/**/*.yaml against, from git checkouts of the upstream repositories,
// at the commits pinned below. Re-runnable: the same commits give the same bytes
// (testdata/k8s-schemas/SHA256SUMS holds their sums; `sha256sum -c` checks a copy).
//
//   node extract-schemas.mjs --out DIR --src OWNER/NAME=GITDIR [--src ...]
//
// GITDIR is any git directory or work tree holding the pinned commit (a clone, a
// bare mirror). Every source below must be given.
//
// What is kept: each file's content as published, with two reductions only, both
// applied to schema objects and neither changing what validates: "description" keys
// are dropped, and only the API versions and definitions the manifests use are kept
// (the Kubernetes definitions are the transitive closure of the kinds in K8S_KINDS;
// Kyverno's ClusterPolicy keeps its kyverno.io/v1 version). Nothing is written by
// hand: a file that changed upstream shows up as a different git blob id in SOURCES.md.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';

// repository, tag (for the reader), commit, path, output file, how
const SOURCES = [
  {
    repo: 'kubernetes-client/python', ref: 'master (client 36.0.0+snapshot)',
    commit: '024658493d124f046fc0a9827a2a3165cf2aee28',
    path: 'kubernetes/swagger.json.unprocessed', out: 'kubernetes/swagger-definitions.json',
    kind: 'swagger',
    note: 'the content of kubernetes/kubernetes api/openapi-spec/swagger.json on branch ' +
      'release-1.36 (scripts/constants.py KUBERNETES_BRANCH), as kubernetes-client/gen ' +
      'openapi/preprocess_spec.py main() downloads it and writes it back unchanged (json.dump, ' +
      'indent 2, key order kept) as swagger.json.unprocessed (read from this copy because a ' +
      'checkout of kubernetes/kubernetes is some 2 GB)',
  },
  {
    repo: 'open-policy-agent/gatekeeper', ref: 'v3.23.0',
    commit: 'cdf332c3f2762c616d4b6f433712a8d7ed62b3d8',
    path: 'charts/gatekeeper/crds/provider-customresourcedefinition.yaml',
    out: 'crds/providers.externaldata.gatekeeper.sh.json', kind: 'crd',
  },
  {
    repo: 'open-policy-agent/gatekeeper', ref: 'v3.23.0',
    commit: 'cdf332c3f2762c616d4b6f433712a8d7ed62b3d8',
    path: 'charts/gatekeeper/crds/constrainttemplate-customresourcedefinition.yaml',
    out: 'crds/constrainttemplates.templates.gatekeeper.sh.json', kind: 'crd',
  },
  {
    repo: 'open-policy-agent/gatekeeper', ref: 'v3.23.0',
    commit: 'cdf332c3f2762c616d4b6f433712a8d7ed62b3d8',
    path: 'charts/gatekeeper/crds/assign-customresourcedefinition.yaml',
    out: 'crds/assign.mutations.gatekeeper.sh.json', kind: 'crd',
  },
  {
    repo: 'open-policy-agent/gatekeeper', ref: 'v3.23.0',
    commit: 'cdf332c3f2762c616d4b6f433712a8d7ed62b3d8',
    path: 'config/crd/bases/match.gatekeeper.sh_matchcrd.yaml',
    out: 'gatekeeper/matchcrd.match.gatekeeper.sh.json', kind: 'crd',
    note: 'the Match schema every generated Constraint CRD embeds as spec.match ' +
      '(pkg/target/match_schema.go reads it from pkg/target/matchcrd_constant.go, generated from this file)',
  },
  {
    repo: 'open-policy-agent/frameworks', ref: 'constraint v0.0.0-20260616163050-e1eaa1bf6d62 (Gatekeeper v3.23.0 go.mod)',
    commit: 'e1eaa1bf6d62ff831975a57a34a161cbc49a7e9c',
    path: 'constraint/pkg/client/crds/schema.go', out: null, kind: 'pin',
    note: 'not copied: CreateSchema builds the Constraint CRD in Go; validate.mjs ' +
      '(constraintSchema) transcribes it, and this blob id pins the version transcribed',
  },
  {
    repo: 'kyverno/kyverno', ref: 'v1.19.0',
    commit: 'ee97ce09538b09b6f1b03853cc41a62654d6a58f',
    path: 'config/crds/kyverno/kyverno.io_clusterpolicies.yaml',
    out: 'crds/clusterpolicies.kyverno.io.json', kind: 'crd', versions: ['v1'],
  },
  {
    repo: 'cert-manager/cert-manager', ref: 'v1.21.1',
    commit: '24e33194fb39488eff2bbf10c6dc640f407cad44',
    path: 'deploy/crds/cert-manager.io_certificates.yaml',
    out: 'crds/certificates.cert-manager.io.json', kind: 'crd',
  },
  {
    repo: 'cert-manager/cert-manager', ref: 'v1.21.1',
    commit: '24e33194fb39488eff2bbf10c6dc640f407cad44',
    path: 'deploy/crds/cert-manager.io_issuers.yaml',
    out: 'crds/issuers.cert-manager.io.json', kind: 'crd',
  },
  ...['verifier', 'store', 'policy'].map((k) => ({
    repo: 'notaryproject/ratify', ref: 'v1.4.0 (chart 1.15.0)',
    commit: 'f3f6229dee1051e4beb580ec17ad68b7a45f23af',
    path: `charts/ratify/crds/${k}-customresourcedefinition.yaml`,
    out: `crds/${k === 'policy' ? 'policies' : k + 's'}.config.ratify.deislabs.io.json`, kind: 'crd',
  })),
  {
    repo: 'notaryproject/ratify', ref: 'v1.4.0 (chart 1.15.0)',
    commit: 'f3f6229dee1051e4beb580ec17ad68b7a45f23af',
    path: 'library/default/template.yaml', out: 'templates/ratifyverification.json', kind: 'object',
    note: 'the ConstraintTemplate integration/k8s/README.md applies; it defines the RatifyVerification kind',
  },
  {
    repo: 'notaryproject/ratify', ref: 'v1.4.0 (chart 1.15.0)',
    commit: 'f3f6229dee1051e4beb580ec17ad68b7a45f23af',
    path: 'charts/ratify/values.yaml', out: 'helm/ratify-1.15.0-values.json', kind: 'object',
    note: 'the chart publishes no values.schema.json: its default values are the key list values-atproto.yaml is checked against',
  },
];

// The built-in kinds the manifests use (group/version/kind as in x-kubernetes-group-version-kind).
const K8S_KINDS = [
  ['', 'v1', 'Namespace'], ['', 'v1', 'ConfigMap'], ['', 'v1', 'Secret'], ['', 'v1', 'Service'],
  ['', 'v1', 'ServiceAccount'], ['apps', 'v1', 'Deployment'], ['policy', 'v1', 'PodDisruptionBudget'],
  ['admissionregistration.k8s.io', 'v1', 'ValidatingWebhookConfiguration'],
  ['admissionregistration.k8s.io', 'v1', 'MutatingWebhookConfiguration'],
];

function args(argv) {
  const o = { out: null, src: {} };
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--out') o.out = argv[++i];
    else if (argv[i] === '--src') {
      const [k, v] = (argv[++i] || '').split(/=(.*)/s);
      if (!k || !v) throw new Error(`--src wants OWNER/NAME=GITDIR, got ${argv[i]}`);
      o.src[k] = v;
    } else throw new Error(`unknown argument ${argv[i]}`);
  }
  if (!o.out) throw new Error('--out DIR is required');
  return o;
}

const git = (dir, ...a) => execFileSync('git', ['-C', dir, ...a], { maxBuffer: 1 << 28 });

// drop "description" keys in schema objects, keep everything else as it is
function strip(v) {
  if (Array.isArray(v)) return v.map(strip);
  if (v === null || typeof v !== 'object') return v;
  const o = {};
  for (const [k, x] of Object.entries(v)) {
    if (k !== 'description') o[k] = strip(x);
  }
  return o;
}

function yamlDocs(text, where) {
  const docs = parseAllDocuments(text, { uniqueKeys: true });
  const out = [];
  for (const d of docs) {
    if (d.errors.length) throw new Error(`${where}: ${d.errors[0].message}`);
    const js = d.toJS();
    if (js != null) out.push(js);
  }
  return out;
}

function swagger(text) {
  const spec = JSON.parse(text);
  const defs = spec.definitions;
  const want = [];
  for (const [g, v, k] of K8S_KINDS) {
    const name = Object.keys(defs).find((n) => (defs[n]['x-kubernetes-group-version-kind'] || [])
      .some((x) => x.group === g && x.version === v && x.kind === k));
    if (!name) throw new Error(`swagger: no definition for ${g}/${v} ${k}`);
    want.push(name);
  }
  // transitive closure over $ref
  const keep = new Set();
  const walk = (x) => {
    if (Array.isArray(x)) return x.forEach(walk);
    if (x === null || typeof x !== 'object') return;
    for (const [k, y] of Object.entries(x)) {
      if (k === '$ref' && typeof y === 'string') {
        const n = y.replace('#/definitions/', '');
        if (!keep.has(n)) { keep.add(n); walk(defs[n]); }
      } else walk(y);
    }
  };
  for (const n of want) { keep.add(n); walk(defs[n]); }
  const out = {};
  for (const n of [...keep].sort()) out[n] = strip(defs[n]);
  return { swagger: spec.swagger, info: spec.info, definitions: out };
}

function crd(text, where, versions) {
  const docs = yamlDocs(text, where);
  if (docs.length !== 1 || docs[0].kind !== 'CustomResourceDefinition') {
    throw new Error(`${where}: want one CustomResourceDefinition`);
  }
  const c = strip(docs[0]);
  if (versions) c.spec.versions = c.spec.versions.filter((v) => versions.includes(v.name));
  if (!c.spec.versions.length) throw new Error(`${where}: no version kept`);
  return c;
}

function main() {
  const o = args(process.argv.slice(2));
  mkdirSync(o.out, { recursive: true });
  const rows = [];
  const sums = [];
  for (const s of SOURCES) {
    const dir = o.src[s.repo];
    if (!dir) throw new Error(`--src ${s.repo}=GITDIR is required`);
    const blob = git(dir, 'rev-parse', `${s.commit}:${s.path}`).toString().trim();
    const text = git(dir, 'show', `${s.commit}:${s.path}`).toString('utf8');
    const where = `${s.repo}@${s.commit.slice(0, 12)}:${s.path}`;
    let data = null;
    if (s.kind === 'swagger') data = swagger(text);
    else if (s.kind === 'crd') data = crd(text, where, s.versions);
    else if (s.kind === 'object') {
      const docs = yamlDocs(text, where);
      if (docs.length !== 1) throw new Error(`${where}: want one document`);
      data = docs[0];
    }
    let sum = '';
    if (s.out) {
      const file = join(o.out, s.out);
      mkdirSync(join(file, '..'), { recursive: true });
      const bytes = JSON.stringify({ 'x-source': { repo: s.repo, commit: s.commit, path: s.path, blob }, ...data }, null, 1) + '\n';
      writeFileSync(file, bytes);
      sum = createHash('sha256').update(bytes).digest('hex');
      sums.push(`${sum}  ${s.out}`);
    }
    rows.push(`| ${s.out ? '`' + s.out + '`' : '(none)'} | ${s.repo} | ${s.ref} | \`${s.commit}\` | \`${s.path}\` | \`${blob}\` |${s.note ? ' ' + s.note : ''} |`);
  }
  const md = [
    '# Published schemas for integration/k8s (validate.mjs)',
    '',
    'Written by `integration/k8s/validate/extract-schemas.mjs` from the commits below; do not edit.',
    'Each output file is JSON: the source file with "description" keys removed (and, for the',
    'Kubernetes spec, only the definitions the manifests reach; for Kyverno only kyverno.io/v1),',
    'plus an `x-source` member naming repository, commit, path and git blob id.',
    '',
    '| output | repository | tag / ref | commit | path | git blob |  note |',
    '|---|---|---|---|---|---|---|',
    ...rows,
    '',
    `Kubernetes kinds kept: ${K8S_KINDS.map(([g, v, k]) => `${g ? g + '/' : ''}${v} ${k}`).join(', ')}.`,
    '',
  ].join('\n');
  writeFileSync(join(o.out, 'SOURCES.md'), md);
  writeFileSync(join(o.out, 'SHA256SUMS'), sums.join('\n') + '\n');
  process.stdout.write(`wrote ${sums.length} schema files, SOURCES.md and SHA256SUMS to ${o.out}\n`);
}

try {
  main();
} catch (e) {
  process.stderr.write(`extract-schemas.mjs: ${e.message}\n`);
  process.exit(1);
}
