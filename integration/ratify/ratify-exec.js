#!/usr/bin/env node
// ratify-exec.js: runs a Ratify v1.x verifier plugin exactly the way Ratify
// v1.4.0 runs it, and parses its output exactly the way Ratify parses it.
//
//   node ratify-exec.js --plugin PATH [--env-file STATE/env] [--timeout-ms 4900]
//        [--cache-dir DIR] [--request-out FILE] [--check] SAMPLE.json
//   node ratify-exec.js --self-test
//
// Why a re-implementation: building Ratify needs ~250 Go modules (see
// ../shared/reference/ratify-protocol.md section 6), so this reproduces, byte
// for byte, the parts of Ratify that touch the plugin (tag v1.4.0):
//   - the request: pkg/verifier/plugin/plugin.go verifyReference
//     (json.Marshal(config.PluginInputConfig), env = os.Environ() + the three
//     RATIFY_VERIFIER_* variables, argv = [path], no arguments);
//   - the run: exec.CommandContext (SIGKILL at the deadline; 4900 ms is the
//     Helm default), cwd "/" as in the official image, stdin from a buffer;
//   - the parse: pkg/common/plugin/exec.go parsePluginOutput (stderr + stdout,
//     bufio.Scanner with its 64 KiB token limit, lines holding '{' decoded by
//     json.Decoder and re-marshalled, the rest lower-cased log messages) and
//     pkg/verifier/types/types.go GetVerifierResult (json.Unmarshal into the
//     VerifierResult struct, keeping isSuccess, message, name, type,
//     extensions).
// Go's encoding/json is emulated where it differs from JavaScript's JSON:
// first-value decoding with trailing bytes ignored, invalid UTF-8 replaced per
// byte, out-of-range numbers rejected, map keys sorted bytewise, HTML-safe
// string escaping, float64 formatting, case-insensitive struct field names.
//
// Output: one JSON line on stdout (the report). With --check, the sample's
// "expect" and the protocol invariants are checked; failures are listed on
// stderr and the exit status is 1. Exit 2: the harness or the sample is wrong.
// No npm dependencies.
'use strict';

const fs = require('fs');
const os = require('os');
const path = require('path');
const { spawn } = require('child_process');

const SCANNER_MAX_TOKEN = 64 * 1024; // bufio.MaxScanTokenSize
const GO_MAX_NESTING = 10000;        // encoding/json maxNestingDepth
const MAX_LOG_LINE = 4096;           // our invariant (verify.h ATV_VFY_MAX_LOG_LINE)
const MAX_CAPTURE = 16 * 1024 * 1024; // a runaway plugin must not exhaust the harness
const DEFAULT_TIMEOUT_MS = 4900;     // Helm: validationTimeoutSeconds*1000-100
const PIPE_GRACE_MS = 1000;          // how long stdio may stay open after exit
const ETXTBSY_RETRIES = 5;           // exec.go maxRetryCount
const ETXTBSY_WAIT_MS = 1000;        // exec.go waitDuration
const RATIFY_VARS = ['RATIFY_VERIFIER_COMMAND', 'RATIFY_VERIFIER_SUBJECT', 'RATIFY_VERIFIER_VERSION'];

class HarnessError extends Error {}

function die(msg) {
    throw new HarnessError(msg);
}

// ---- Go's UTF-8 decoding (utf8.DecodeRune: one U+FFFD per invalid byte) ----

const fatalDecoder = new TextDecoder('utf-8', { fatal: true });

function goUtf8(buf) {
    try {
        return fatalDecoder.decode(buf);
    } catch (e) {
        // slow path below
    }
    const cps = [];
    let i = 0;
    const n = buf.length;
    const cont = (k) => k < n && (buf[k] & 0xc0) === 0x80;
    while (i < n) {
        const b = buf[i];
        if (b < 0x80) {
            cps.push(b);
            i += 1;
            continue;
        }
        let need = 0, lo = 0x80, hi = 0xbf, cp = 0;
        if (b >= 0xc2 && b <= 0xdf) { need = 1; cp = b & 0x1f; }
        else if (b >= 0xe0 && b <= 0xef) {
            need = 2; cp = b & 0x0f;
            if (b === 0xe0) lo = 0xa0;
            if (b === 0xed) hi = 0x9f;
        } else if (b >= 0xf0 && b <= 0xf4) {
            need = 3; cp = b & 0x07;
            if (b === 0xf0) lo = 0x90;
            if (b === 0xf4) hi = 0x8f;
        }
        let ok = need > 0 && i + 1 < n && buf[i + 1] >= lo && buf[i + 1] <= hi;
        for (let k = 2; ok && k <= need; k++) ok = cont(i + k);
        if (!ok) {
            cps.push(0xfffd);
            i += 1;
            continue;
        }
        for (let k = 1; k <= need; k++) cp = (cp << 6) | (buf[i + k] & 0x3f);
        cps.push(cp);
        i += need + 1;
    }
    let s = '';
    for (let k = 0; k < cps.length; k += 4096) s += String.fromCodePoint(...cps.slice(k, k + 4096));
    return s;
}

// strings.ToLower: unicode.ToLower per code point (simple mapping).
function goLower(s) {
    let out = '';
    for (const ch of s) {
        const l = ch.toLowerCase();
        out += [...l].length === 1 ? l : String.fromCodePoint(l.codePointAt(0));
    }
    return out;
}

// ---- Go's JSON decoding into interface{} ---------------------------------------

// A decoded JSON object: pairs in input order (duplicates kept; Go's map keeps
// the last one, struct decoding sees all of them in order).
class GoObject {
    constructor() { this.pairs = []; }
}

class GoSyntaxError extends Error {}
const HARNESS_DEPTH = 'harness limit: nesting too deep for this emulation (Go accepts 10000 levels)';

function quoteChar(c) {
    if (c === "'") return "'\\''";
    if (c === '"') return "'\"'";
    return "'" + JSON.stringify(c).slice(1, -1) + "'";
}

const isWs = (c) => c === ' ' || c === '\t' || c === '\r' || c === '\n';

// Parses one JSON value of s starting at pos with Go's grammar. Returns
// { value, end }. Throws GoSyntaxError (syntax, nesting) or, for a number
// outside float64, an error with .typeError set (Go: UnmarshalTypeError, which
// still fails Decode).
function goParseValue(s, pos) {
    let i = pos;
    let numberError = null;
    const eof = () => { throw new GoSyntaxError('unexpected EOF'); };
    const bad = (ctx) => {
        if (i >= s.length) eof();
        throw new GoSyntaxError('invalid character ' + quoteChar(s[i]) + ' ' + ctx);
    };
    const skip = () => { while (i < s.length && isWs(s[i])) i++; };
    function str() {
        i++; // opening quote
        let out = '';
        for (;;) {
            if (i >= s.length) eof();
            const c = s[i];
            const code = s.charCodeAt(i);
            if (c === '"') { i++; return out; }
            if (code < 0x20) bad('in string literal');
            if (c !== '\\') { out += c; i++; continue; }
            i++;
            if (i >= s.length) eof();
            const e = s[i];
            const simple = { '"': '"', '\\': '\\', '/': '/', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t' };
            if (e in simple) { out += simple[e]; i++; continue; }
            if (e !== 'u') bad('in string escape code');
            i++;
            const hex4 = (k) => {
                for (let j = 0; j < 4; j++) {
                    if (k + j >= s.length) return -1;
                    if (!/[0-9a-fA-F]/.test(s[k + j])) return -2;
                }
                return parseInt(s.slice(k, k + 4), 16);
            };
            const u = hex4(i);
            if (u === -1) eof();
            if (u === -2) {
                let j = i;
                while (/[0-9a-fA-F]/.test(s[j])) j++;
                i = j;
                bad('in \\u hexadecimal character escape');
            }
            i += 4;
            if (u >= 0xd800 && u <= 0xdfff) {
                // unquote: a valid pair is combined, anything else is U+FFFD
                if (u <= 0xdbff && s[i] === '\\' && s[i + 1] === 'u') {
                    const u2 = hex4(i + 2);
                    if (u2 >= 0xdc00 && u2 <= 0xdfff) {
                        out += String.fromCharCode(u, u2);
                        i += 6;
                        continue;
                    }
                }
                out += '\ufffd';
                continue;
            }
            out += String.fromCharCode(u);
        }
    }
    function num() {
        const start = i;
        if (s[i] === '-') i++;
        if (i >= s.length) eof();
        if (s[i] === '0') i++;
        else if (s[i] >= '1' && s[i] <= '9') { while (s[i] >= '0' && s[i] <= '9') i++; }
        else bad('in numeric literal');
        if (s[i] === '.') {
            i++;
            if (i >= s.length) eof();
            if (!(s[i] >= '0' && s[i] <= '9')) bad('after decimal point in numeric literal');
            while (s[i] >= '0' && s[i] <= '9') i++;
        }
        if (s[i] === 'e' || s[i] === 'E') {
            i++;
            if (s[i] === '+' || s[i] === '-') i++;
            if (i >= s.length) eof();
            if (!(s[i] >= '0' && s[i] <= '9')) bad('in exponent of numeric literal');
            while (s[i] >= '0' && s[i] <= '9') i++;
        }
        const text = s.slice(start, i);
        const v = Number(text);
        if (!Number.isFinite(v) && numberError === null) {
            // strconv.ParseFloat: ErrRange -> UnmarshalTypeError (saved, Decode fails)
            numberError = 'json: cannot unmarshal number ' + text + ' into Go value of type float64';
        }
        return v;
    }
    function value(depth) {
        skip();
        if (i >= s.length) eof();
        const c = s[i];
        if (c === '{' || c === '[') {
            if (depth + 1 > GO_MAX_NESTING) throw new GoSyntaxError('exceeded max depth');
        }
        if (c === '{') {
            i++;
            const o = new GoObject();
            skip();
            if (s[i] === '}') { i++; return o; }
            for (;;) {
                skip();
                if (s[i] !== '"') bad('looking for beginning of object key string');
                const k = str();
                skip();
                if (s[i] !== ':') bad('after object key');
                i++;
                o.pairs.push([k, value(depth + 1)]);
                skip();
                if (s[i] === ',') { i++; continue; }
                if (s[i] === '}') { i++; return o; }
                bad('after object key:value pair');
            }
        }
        if (c === '[') {
            i++;
            const a = [];
            skip();
            if (s[i] === ']') { i++; return a; }
            for (;;) {
                a.push(value(depth + 1));
                skip();
                if (s[i] === ',') { i++; continue; }
                if (s[i] === ']') { i++; return a; }
                bad('after array element');
            }
        }
        if (c === '"') return str();
        if (c === '-' || (c >= '0' && c <= '9')) return num();
        for (const [lit, v] of [['true', true], ['false', false], ['null', null]]) {
            if (c === lit[0]) {
                for (let j = 0; j < lit.length; j++) {
                    if (i >= s.length) eof();
                    if (s[i] !== lit[j]) bad('in literal ' + lit + ' (expecting ' + quoteChar(lit[j]) + ')');
                    i++;
                }
                return v;
            }
        }
        bad('looking for beginning of value');
    }
    let v;
    try {
        v = value(0);
    } catch (e) {
        // The JS stack ends before Go's 10000 levels (about 3000 here): a gap
        // of this emulation, reported as such, never silently taken for Go's.
        if (e instanceof RangeError) throw new GoSyntaxError(HARNESS_DEPTH);
        throw e;
    }
    if (numberError !== null) {
        const e = new Error(numberError);
        e.typeError = true;
        throw e;
    }
    return { value: v, end: i };
}

// json.NewDecoder(strings.NewReader(line)).Decode(&obj): the first value;
// whatever follows it is never looked at.
function goDecoderDecode(line) {
    return goParseValue(line, 0).value;
}

// json.Unmarshal's checkValid: exactly one value, then only white space.
function goUnmarshalValue(s) {
    let i = 0;
    while (i < s.length && isWs(s[i])) i++;
    if (i >= s.length) throw new GoSyntaxError('unexpected end of JSON input');
    let r;
    try {
        r = goParseValue(s, 0);
    } catch (e) {
        if (e instanceof GoSyntaxError && e.message === 'unexpected EOF') {
            throw new GoSyntaxError('unexpected end of JSON input');
        }
        throw e;
    }
    let j = r.end;
    while (j < s.length && isWs(s[j])) j++;
    if (j < s.length) throw new GoSyntaxError('invalid character ' + quoteChar(s[j]) + ' after top-level value');
    return r.value;
}

// ---- Go's JSON encoding (json.Marshal) -----------------------------------------

function goFloat(f) {
    if (!Number.isFinite(f)) die('json: unsupported value: ' + f);
    if (Object.is(f, -0)) return '-0';
    // ES Number::toString and Go's 'f'/'e' choice (1e-6 <= |f| < 1e21) agree,
    // and both print the shortest round-trip digits; Go's e-07 -> e-7 cleanup
    // matches ES's exponent form.
    return String(f);
}

function goString(s) {
    let out = '"';
    for (let i = 0; i < s.length; i++) {
        const c = s.charCodeAt(i);
        if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
            const d = s.charCodeAt(i + 1);
            if (d >= 0xdc00 && d <= 0xdfff) { out += s[i] + s[i + 1]; i++; continue; }
        }
        if (c >= 0xd800 && c <= 0xdfff) { out += '\ufffd'; continue; } // invalid UTF-8 in Go
        if (c === 0x22) out += '\\"';
        else if (c === 0x5c) out += '\\\\';
        else if (c === 0x08) out += '\\b';
        else if (c === 0x0c) out += '\\f';
        else if (c === 0x0a) out += '\\n';
        else if (c === 0x0d) out += '\\r';
        else if (c === 0x09) out += '\\t';
        else if (c < 0x20 || c === 0x3c || c === 0x3e || c === 0x26 || c === 0x2028 || c === 0x2029) {
            out += '\\u' + c.toString(16).padStart(4, '0');
        } else out += s[i];
    }
    return out + '"';
}

const byteOrder = (a, b) => Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));

// Marshals a value as Go marshals interface{} / map[string]interface{}.
// Accepts GoObject and plain JS objects (from the sample file).
function goMarshal(v) {
    if (v === null || v === undefined) return 'null';
    if (typeof v === 'boolean') return v ? 'true' : 'false';
    if (typeof v === 'number') return goFloat(v);
    if (typeof v === 'string') return goString(v);
    if (Array.isArray(v)) return '[' + v.map(goMarshal).join(',') + ']';
    const m = new Map();
    if (v instanceof GoObject) for (const [k, x] of v.pairs) m.set(k, x);
    else for (const k of Object.keys(v)) m.set(k, v[k]);
    const keys = [...m.keys()].sort(byteOrder);
    return '{' + keys.map((k) => goString(k) + ':' + goMarshal(m.get(k))).join(',') + '}';
}

// GoObject trees to plain JSON (null-prototype objects: "__proto__" is data).
function toPlain(v) {
    if (Array.isArray(v)) return v.map(toPlain);
    if (v instanceof GoObject) {
        const o = Object.create(null);
        for (const [k, x] of v.pairs) o[k] = toPlain(x);
        return o;
    }
    return v;
}

// ---- json.Unmarshal into types.VerifierResult (v1.4.0) -------------------------

const RESULT_FIELDS = [
    ['isSuccess', 'bool'], ['message', 'string'], ['errorReason', 'string'],
    ['remediation', 'string'], ['name', 'string'], ['verifierName', 'string'],
    ['type', 'string'], ['verifierType', 'string'], ['extensions', 'any'],
];

// encoding/json foldName: ASCII upper-cased; the only non-ASCII runes that
// fold onto ASCII letters are U+017F (s) and U+212A (k).
function foldName(k) {
    let out = '';
    for (const ch of k) {
        if (ch === '\u017f') out += 'S';
        else if (ch === '\u212a') out += 'K';
        else if (ch.charCodeAt(0) < 0x80) out += ch.toUpperCase();
        else out += ch;
    }
    return out;
}

function jsonKind(v) {
    if (v === null) return 'null';
    if (typeof v === 'boolean') return 'bool';
    if (typeof v === 'number') return 'number';
    if (typeof v === 'string') return 'string';
    if (Array.isArray(v)) return 'array';
    return 'object';
}

function goUnmarshalResult(buf) {
    const v = goUnmarshalValue(buf);
    const r = { isSuccess: false, message: '', errorReason: '', remediation: '', name: '',
        verifierName: '', type: '', verifierType: '', extensions: null };
    if (v === null) return r; // null into a struct is a no-op
    if (!(v instanceof GoObject)) {
        throw new Error('json: cannot unmarshal ' + jsonKind(v) + ' into Go value of type types.VerifierResult');
    }
    const exact = new Map(RESULT_FIELDS.map(([n, t]) => [n, [n, t]]));
    const folded = new Map(RESULT_FIELDS.map(([n, t]) => [foldName(n), [n, t]]));
    let saved = null;
    for (const [k, x] of v.pairs) {
        const f = exact.get(k) || folded.get(foldName(k));
        if (!f) continue;
        const [field, type] = f;
        if (type === 'any') { r[field] = toPlain(x); continue; }
        if (x === null) continue; // null leaves a bool/string field alone
        if (jsonKind(x) !== type) {
            if (saved === null) {
                saved = 'json: cannot unmarshal ' + jsonKind(x) + ' into Go struct field VerifierResult.'
                    + field + ' of type ' + type;
            }
            continue;
        }
        r[field] = x;
    }
    if (saved !== null) throw new Error(saved);
    return r;
}

// ---- parsePluginOutput + GetVerifierResult -------------------------------------

// bufio.Scanner with ScanLines over buf: lines without "\n" and a trailing
// "\r"; a line of SCANNER_MAX_TOKEN bytes or more stops the scan (ErrTooLong).
// Each line carries its byte offsets, to tell stderr lines from stdout lines.
function scanLines(buf) {
    const lines = [];
    let start = 0;
    let scanError = null;
    while (start < buf.length) {
        let nl = buf.indexOf(0x0a, start);
        const end = nl < 0 ? buf.length : nl;
        if (end - start >= SCANNER_MAX_TOKEN) {
            scanError = 'bufio.Scanner: token too long (line at byte ' + start + ' is '
                + (end - start) + ' bytes or more)';
            break;
        }
        let tokEnd = end;
        if (tokEnd > start && buf[tokEnd - 1] === 0x0d) tokEnd--;
        lines.push({ bytes: buf.subarray(start, tokEnd), start, end });
        start = nl < 0 ? buf.length : nl + 1;
    }
    return { lines, scanError };
}

function parsePluginOutput(stdout, stderr) {
    const all = Buffer.concat([stderr, stdout]);
    const { lines, scanError } = scanLines(all);
    let jsonBuffer = '';
    const jsonLines = [];
    const messages = [];
    const droppedLines = [];
    for (const ln of lines) {
        const text = goUtf8(ln.bytes);
        const from = ln.end <= stderr.length ? 'stderr' : (ln.start >= stderr.length ? 'stdout' : 'both');
        if (text.includes('{')) {
            let m;
            try {
                m = goMarshal(goDecoderDecode(text));
            } catch (e) {
                if (e instanceof HarnessError) throw e;
                const msg = e instanceof RangeError ? HARNESS_DEPTH : e.message;
                droppedLines.push({ line: text, from, error: msg });
                continue;
            }
            jsonBuffer += m;
            jsonLines.push({ from, json: m, line: text });
        } else {
            messages.push(text);
        }
    }
    const logs = messages.map((raw) => {
        let msg = goLower(raw);
        let level = 'other';
        for (const l of ['info', 'warn', 'debug']) {
            if (msg.startsWith(l)) {
                level = l;
                msg = msg.split(l + ': ').join('');
                break;
            }
        }
        return { level, msg };
    });
    let result = null;
    let parseError = null;
    try {
        const r = goUnmarshalResult(jsonBuffer);
        result = { isSuccess: r.isSuccess, message: r.message, name: r.name, type: r.type,
            verifierName: r.name, verifierType: r.type, extensions: r.extensions };
    } catch (e) {
        if (e instanceof HarnessError) throw e;
        parseError = e.message;
    }
    return { result, parseError, logs, droppedLines, jsonLines, scanError };
}

// ---- the request (json.Marshal(config.PluginInputConfig)) ----------------------

function isPlainObject(v) {
    return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function requireType(v, kind, where) {
    if (jsonKind(v) !== kind) die('sample: ' + where + ' must be a JSON ' + kind + ' (Ratify\'s Go type), got ' + jsonKind(v));
}

function warnDropped(obj, known, where, warnings) {
    for (const k of Object.keys(obj)) {
        if (!known.includes(k)) warnings.push(where + '.' + k + ' is not a field of Ratify\'s Go struct: dropped, as json.Marshal would never send it');
    }
}

function marshalStringSlice(v, where) {
    if (v === null || v === undefined) return 'null';
    requireType(v, 'array', where);
    v.forEach((x, i) => requireType(x, 'string', where + '[' + i + ']'));
    return '[' + v.map(goString).join(',') + ']';
}

function marshalStoreConfig(sc, warnings) {
    if (sc === undefined || sc === null) sc = {};
    requireType(sc, 'object', 'stdin.storeConfig');
    warnDropped(sc, ['version', 'pluginBinDirs', 'store'], 'stdin.storeConfig', warnings);
    const version = sc.version === undefined ? '' : sc.version;
    requireType(version, 'string', 'stdin.storeConfig.version');
    const store = sc.store === undefined ? null : sc.store;
    if (store !== null) requireType(store, 'object', 'stdin.storeConfig.store');
    return '{"version":' + goString(version) + ',"pluginBinDirs":'
        + marshalStringSlice(sc.pluginBinDirs, 'stdin.storeConfig.pluginBinDirs')
        + ',"store":' + goMarshal(store) + '}';
}

function marshalPlatform(p) {
    requireType(p, 'object', 'stdin.referenceDesc.platform');
    const str = (k) => {
        const v = p[k] === undefined ? '' : p[k];
        requireType(v, 'string', 'stdin.referenceDesc.platform.' + k);
        return v;
    };
    let out = '{"architecture":' + goString(str('architecture')) + ',"os":' + goString(str('os'));
    if (str('os.version') !== '') out += ',"os.version":' + goString(str('os.version'));
    if (p['os.features'] !== undefined && p['os.features'] !== null && p['os.features'].length > 0) {
        out += ',"os.features":' + marshalStringSlice(p['os.features'], 'stdin.referenceDesc.platform.os.features');
    }
    if (str('variant') !== '') out += ',"variant":' + goString(str('variant'));
    return out + '}';
}

// ocispecs.ReferenceDescriptor: the embedded v1.Descriptor's fields in order,
// then the outer artifactType (which shadows the embedded one).
function marshalReferenceDesc(d, warnings) {
    if (d === undefined || d === null) d = {};
    requireType(d, 'object', 'stdin.referenceDesc');
    warnDropped(d, ['mediaType', 'digest', 'size', 'urls', 'annotations', 'data', 'platform', 'artifactType'],
        'stdin.referenceDesc', warnings);
    const str = (k) => {
        const v = d[k] === undefined ? '' : d[k];
        requireType(v, 'string', 'stdin.referenceDesc.' + k);
        return v;
    };
    const size = d.size === undefined ? 0 : d.size;
    if (!Number.isSafeInteger(size)) die('sample: stdin.referenceDesc.size must be an integer (int64)');
    let out = '{"mediaType":' + goString(str('mediaType')) + ',"digest":' + goString(str('digest'))
        + ',"size":' + String(size);
    if (d.urls !== undefined && d.urls !== null && d.urls.length > 0) {
        out += ',"urls":' + marshalStringSlice(d.urls, 'stdin.referenceDesc.urls');
    }
    if (d.annotations !== undefined && d.annotations !== null) {
        requireType(d.annotations, 'object', 'stdin.referenceDesc.annotations');
        for (const k of Object.keys(d.annotations)) requireType(d.annotations[k], 'string', 'stdin.referenceDesc.annotations.' + k);
        if (Object.keys(d.annotations).length > 0) out += ',"annotations":' + goMarshal(d.annotations);
    }
    if (str('data') !== '') {
        if (!/^[A-Za-z0-9+/]*={0,2}$/.test(d.data) || d.data.length % 4 !== 0) die('sample: stdin.referenceDesc.data must be standard base64 ([]byte)');
        out += ',"data":' + goString(d.data);
    }
    if (d.platform !== undefined && d.platform !== null) out += ',"platform":' + marshalPlatform(d.platform);
    if (str('artifactType') !== '') out += ',"artifactType":' + goString(d.artifactType);
    return out + '}';
}

function buildStdin(sample, warnings) {
    if (sample.stdinRaw !== undefined) {
        requireType(sample.stdinRaw, 'string', 'stdinRaw');
        if (sample.stdin !== undefined) die('sample: give "stdin" or "stdinRaw", not both');
        return Buffer.from(sample.stdinRaw, 'utf8');
    }
    const st = sample.stdin === undefined ? {} : sample.stdin;
    requireType(st, 'object', 'stdin');
    warnDropped(st, ['config', 'storeConfig', 'referenceDesc'], 'stdin', warnings);
    const config = st.config === undefined ? null : st.config;
    if (config !== null) requireType(config, 'object', 'stdin.config');
    const s = '{"config":' + goMarshal(config) + ',"storeConfig":' + marshalStoreConfig(st.storeConfig, warnings)
        + ',"referenceDesc":' + marshalReferenceDesc(st.referenceDesc, warnings) + '}';
    return Buffer.from(s, 'utf8');
}

// ---- placeholders --------------------------------------------------------------

function readEnvFile(file) {
    const vars = new Map();
    const text = fs.readFileSync(file, 'utf8');
    for (const raw of text.split('\n')) {
        let line = raw.replace(/\r$/, '').trim();
        if (line === '' || line.startsWith('#')) continue;
        if (line.startsWith('export ')) line = line.slice(7).trim();
        const eq = line.indexOf('=');
        if (eq <= 0) die(file + ': not a KEY=VALUE line: ' + raw);
        let val = line.slice(eq + 1);
        if (val.length >= 2 && (val[0] === '"' || val[0] === "'") && val[val.length - 1] === val[0]) val = val.slice(1, -1);
        vars.set(line.slice(0, eq), val);
    }
    return vars;
}

function substitute(v, lookup) {
    if (typeof v === 'string') return v.replace(/@([A-Z][A-Z0-9_]*)@/g, (m, key) => lookup(key));
    if (Array.isArray(v)) return v.map((x) => substitute(x, lookup));
    if (isPlainObject(v)) {
        const o = Object.create(null);
        for (const k of Object.keys(v)) o[substitute(k, lookup)] = substitute(v[k], lookup);
        return o;
    }
    return v;
}

// ---- running the plugin --------------------------------------------------------

function spawnOnce(plugin, env, stdinBuf, timeoutMs) {
    return new Promise((resolve) => {
        const out = [], err = [];
        let outLen = 0, errLen = 0, overflow = false;
        let killed = false, exited = null, closed = false, spawnError = null, pipesHeld = false;
        const t0 = process.hrtime.bigint();
        let elapsedMs = null;
        let child;
        try {
            child = spawn(plugin, [], { cwd: '/', env, stdio: ['pipe', 'pipe', 'pipe'] });
        } catch (e) {
            resolve({ spawnError: e });
            return;
        }
        const finish = () => {
            clearTimeout(timer);
            clearTimeout(graceTimer);
            resolve({ spawnError, exitCode: exited ? exited.code : null, signal: exited ? exited.signal : null,
                killed, elapsedMs, overflow, pipesHeld,
                stdout: Buffer.concat(out), stderr: Buffer.concat(err) });
        };
        let graceTimer = null;
        const timer = setTimeout(() => {
            killed = true;
            child.kill('SIGKILL');
        }, timeoutMs);
        child.on('error', (e) => {
            spawnError = e;
            if (!closed) { closed = true; finish(); }
        });
        child.stdin.on('error', () => {}); // EPIPE: exec's stdin copy ignores it too
        child.stdout.on('data', (d) => {
            outLen += d.length;
            if (outLen > MAX_CAPTURE) { overflow = true; child.kill('SIGKILL'); return; }
            out.push(d);
        });
        child.stderr.on('data', (d) => {
            errLen += d.length;
            if (errLen > MAX_CAPTURE) { overflow = true; child.kill('SIGKILL'); return; }
            err.push(d);
        });
        child.on('exit', (code, signal) => {
            elapsedMs = Number(process.hrtime.bigint() - t0) / 1e6;
            exited = { code, signal };
            clearTimeout(timer);
            // Go's Wait also waits for the pipes; a descendant holding them
            // would hang Ratify. Give it a bounded grace, then report it.
            graceTimer = setTimeout(() => {
                pipesHeld = true;
                child.stdout.destroy();
                child.stderr.destroy();
                if (!closed) { closed = true; finish(); }
            }, PIPE_GRACE_MS);
        });
        child.on('close', () => {
            if (!closed) { closed = true; finish(); }
        });
        child.stdin.end(stdinBuf);
    });
}

async function runPlugin(plugin, env, stdinBuf, timeoutMs) {
    for (let attempt = 0; ; attempt++) {
        const r = await spawnOnce(plugin, env, stdinBuf, timeoutMs);
        if (r.spawnError && r.spawnError.code === 'ETXTBSY' && attempt < ETXTBSY_RETRIES) {
            await new Promise((res) => setTimeout(res, ETXTBSY_WAIT_MS));
            continue;
        }
        return r;
    }
}

// ---- checks --------------------------------------------------------------------

function splitRawLines(buf) {
    const lines = [];
    let start = 0;
    while (start < buf.length) {
        const nl = buf.indexOf(0x0a, start);
        if (nl < 0) { lines.push({ bytes: buf.subarray(start), terminated: false }); break; }
        lines.push({ bytes: buf.subarray(start, nl), terminated: true });
        start = nl + 1;
    }
    return lines;
}

function sameValue(a, b) {
    return typeof a === typeof b && a === b;
}

function check(sample, report, run, env, stdinBuf) {
    const f = [];
    const expect = sample.expect;
    const debugOn = String(env.RATIFY_LOG_LEVEL || '').toLowerCase() === 'debug';
    const errLines = splitRawLines(run.stderr);
    const outLines = splitRawLines(run.stdout);

    // invariants on every run
    if (run.killed) f.push('killed: no answer within the deadline');
    if (run.overflow) f.push('output exceeded ' + MAX_CAPTURE + ' bytes');
    if (run.pipesHeld) f.push('stdout/stderr were still open ' + PIPE_GRACE_MS + ' ms after exit (Ratify\'s Wait would block)');
    if (run.stderr.length > 0 && run.stderr[run.stderr.length - 1] !== 0x0a) {
        f.push('stderr does not end in \\n: its last line merges with the stdout JSON in Ratify\'s parser');
    }
    errLines.forEach((l, i) => {
        const t = goUtf8(l.bytes);
        if (l.bytes.includes(0x7b)) f.push('stderr line ' + (i + 1) + ' contains \'{\': ' + JSON.stringify(t));
        const m = /^(info|warn|debug): /.exec(t);
        if (!m) f.push('stderr line ' + (i + 1) + ' lacks an info: / warn: / debug: prefix: ' + JSON.stringify(t));
        else if (m[1] === 'debug' && !debugOn) f.push('stderr line ' + (i + 1) + ' is a debug line but RATIFY_LOG_LEVEL is not debug');
    });
    for (const [name, lines] of [['stdout', outLines], ['stderr', errLines]]) {
        lines.forEach((l, i) => {
            if (l.bytes.length > MAX_LOG_LINE) f.push(name + ' line ' + (i + 1) + ' is ' + l.bytes.length + ' bytes (over ' + MAX_LOG_LINE + ')');
        });
    }
    if (report.scanError) f.push('scan error: ' + report.scanError);

    if (!Number.isInteger(expect.exitCode)) die('sample: expect.exitCode must be an integer');
    if (report.exitCode !== expect.exitCode) {
        f.push('exit code ' + report.exitCode + (run.signal ? ' (signal ' + run.signal + ')' : '') + ', want ' + expect.exitCode);
    }
    if (report.exitCode === 0) {
        const fromOut = report.jsonLines.filter((j) => j.from === 'stdout');
        if (report.jsonLines.length !== 1) {
            f.push(report.jsonLines.length + ' JSON values in the combined output, want exactly 1');
        } else if (report.jsonLines[0].from !== 'stdout') {
            f.push('the JSON value came from ' + report.jsonLines[0].from + ', not stdout alone');
        }
        for (const d of report.droppedLines) {
            f.push('a line holding \'{\' (from ' + d.from + ') was dropped by the parser: ' + d.error + ': '
                + JSON.stringify(d.line.length > 200 ? d.line.slice(0, 200) + '...' : d.line));
        }
        if (!(outLines.length === 1 && outLines[0].terminated)) {
            f.push('stdout is ' + outLines.length + ' line(s)' + (outLines.length === 1 ? ' without \\n' : '') + ', want exactly one newline-terminated JSON line');
        }
        if (report.parseError) f.push('Ratify could not parse the result: ' + report.parseError);
        let raw = null;
        if (fromOut.length === 1) {
            try { raw = JSON.parse(fromOut[0].line); } catch (e) { f.push('the result line is not strict JSON: ' + e.message); }
        }
        if (raw !== null) {
            if (!isPlainObject(raw)) f.push('the result line is not a JSON object');
            else {
                if (typeof raw.isSuccess !== 'boolean') f.push('result has no boolean "isSuccess"');
                for (const k of ['name', 'type', 'message']) if (typeof raw[k] !== 'string') f.push('result has no string "' + k + '"');
                if (raw.extensions !== undefined && !isPlainObject(raw.extensions)) f.push('result "extensions" is not an object');
            }
        }
        const r = report.result;
        if (r) {
            const ext = isPlainObject(r.extensions) ? r.extensions : null;
            if (ext) {
                for (const k of Object.keys(ext)) {
                    const t = jsonKind(ext[k]);
                    if (t !== 'string' && t !== 'bool') f.push('extensions.' + k + ' is a ' + t + ', want string or boolean');
                }
            }
            const has = (k) => ext !== null && Object.prototype.hasOwnProperty.call(ext, k);
            if (expect.isSuccess !== undefined && r.isSuccess !== expect.isSuccess) {
                f.push('isSuccess ' + r.isSuccess + ', want ' + expect.isSuccess
                    + (has('reason') ? ' (reason ' + ext.reason + ')' : '') + ': message ' + JSON.stringify(r.message));
            }
            if (expect.reason !== undefined) {
                if (!has('reason')) f.push('extensions.reason absent, want ' + JSON.stringify(expect.reason));
                else if (!sameValue(ext.reason, expect.reason)) f.push('extensions.reason ' + JSON.stringify(ext.reason) + ', want ' + JSON.stringify(expect.reason));
            }
            if (expect.extensions !== undefined) {
                requireType(expect.extensions, 'object', 'expect.extensions');
                for (const k of Object.keys(expect.extensions)) {
                    const want = expect.extensions[k];
                    if (typeof want !== 'string' && typeof want !== 'boolean') die('sample: expect.extensions.' + k + ' must be a string or boolean');
                    if (!has(k)) f.push('extensions.' + k + ' absent, want ' + JSON.stringify(want));
                    else if (!sameValue(ext[k], want)) f.push('extensions.' + k + ' ' + JSON.stringify(ext[k]) + ', want ' + JSON.stringify(want));
                }
            }
            for (const k of expect.absent || []) {
                if (has(k)) f.push('extensions.' + k + ' is present (' + JSON.stringify(ext[k]) + '), want absent');
            }
            if (expect.messageContains !== undefined && !r.message.includes(expect.messageContains)) {
                f.push('message ' + JSON.stringify(r.message) + ' does not contain ' + JSON.stringify(expect.messageContains));
            }
            // name/type are echoed from config (type falls back to name)
            let config = null;
            try {
                const req = JSON.parse(stdinBuf.toString('utf8'));
                if (isPlainObject(req) && isPlainObject(req.config)) config = req.config;
            } catch (e) { config = null; }
            let wantName = expect.name, wantType = expect.type;
            if (config !== null && wantName === undefined && typeof config.name === 'string') wantName = config.name;
            if (config !== null && wantType === undefined) {
                if (typeof config.type === 'string') wantType = config.type;
                else if (typeof config.name === 'string') wantType = config.name;
            }
            if (wantName !== undefined && r.name !== wantName) f.push('name ' + JSON.stringify(r.name) + ', want ' + JSON.stringify(wantName));
            if (wantType !== undefined && r.type !== wantType) f.push('type ' + JSON.stringify(r.type) + ', want ' + JSON.stringify(wantType));
        }
    } else if (report.exitCode === 1 && expect.exitCode === 1) {
        if (!(outLines.length === 1)) f.push('stdout is ' + outLines.length + ' line(s), want the single error JSON line');
        else {
            let e = null;
            try { e = JSON.parse(goUtf8(outLines[0].bytes)); } catch (x) { f.push('the stdout line is not JSON: ' + x.message); }
            if (e !== null) {
                if (!isPlainObject(e)) f.push('the error line is not a JSON object');
                else {
                    if (expect.code !== undefined && e.code !== expect.code) f.push('error code ' + JSON.stringify(e.code) + ', want ' + expect.code);
                    if (!Number.isInteger(e.code)) f.push('error "code" is not an integer');
                    if (typeof e.msg !== 'string') f.push('error has no string "msg"');
                }
            }
        }
    }
    return f;
}

// ---- --self-test: the Go emulation against behaviour known from Go's source ----

function selfTest() {
    const assert = require('assert');
    const h = module.exports;
    let n = 0;
    const dec = (line) => { try { return h.goMarshal(h.goDecoderDecode(line)); } catch (e) { return 'ERR'; } };
    const cases = [
      ['{"a":1} trailing', '{"a":1}'], ['"quoted" {x}', '"quoted"'], ['42 {', '42'], ['42{', '42'],
      ['truex{', 'true'], ['01{', '0'], ['info: {x}', 'ERR'], ['{"a":1', 'ERR'], ['{"a":1,}', 'ERR'],
      ['{"b":1,"a":"<&>\u2028"}', '{"a":"\\u003c\\u0026\\u003e\\u2028","b":1}'], ['{"a":1e400}', 'ERR'],
      ['{"a":1e-7,"b":1E21,"c":1.0,"d":-0,"e":0.000001,"f":123456789012345678901,"g":1e-400}',
       '{"a":1e-7,"b":1e+21,"c":1,"d":-0,"e":0.000001,"f":123456789012345680000,"g":0}'],
      ['{"a":"\\ud800x","b":"\\ud83d\\ude00","c":"\\u0008\\f\\u0001"}', '{"a":"\ufffdx","b":"\u{1f600}","c":"\\b\\f\\u0001"}'],
      ['{"a":1,"a":2}', '{"a":2}'], ['{"\t":1}', 'ERR'], ['[1,{}]', '[1,{}]'], ['{"a":tru}', 'ERR'],
      ['  {"z":{"y":[null,false]}}', '{"z":{"y":[null,false]}}'], ['{"a":"x"}}', '{"a":"x"}'],
      ['['.repeat(10001) + '{', 'ERR'], ['{"a":.5}', 'ERR'], ['{"a":1.}', 'ERR'], ['{"a":-}', 'ERR'],
    ];
    for (const [i, o] of cases) { assert.strictEqual(dec(i), o, 'decode ' + JSON.stringify(i.slice(0, 60))); n++; }
    const un = (s) => { try { return h.goUnmarshalResult(s); } catch (e) { return 'ERR: ' + e.message; } };
    assert.strictEqual(un(''), 'ERR: unexpected end of JSON input'); n++;
    assert.match(un('{"isSuccess":true}{"isSuccess":false}'), /invalid character '\{' after top-level value/); n++;
    assert.strictEqual(un('{"ISSUCCESS":true,"Name":"n","isſuccess":false}').isSuccess, false); n++;
    assert.strictEqual(un('{"ISSUCCESS":true,"Name":"n"}').name, 'n'); n++;
    assert.match(un('{"isSuccess":"true"}'), /cannot unmarshal string/); n++;
    assert.match(un('{"errorReason":5,"isSuccess":true}'), /cannot unmarshal number/); n++;
    assert.strictEqual(un('null').isSuccess, false); n++;
    assert.match(un('12'), /cannot unmarshal number into Go value/); n++;
    assert.strictEqual(un('{"isSuccess":null,"type":"t","extensions":{"x":"y"}}').extensions.x, 'y'); n++;
    // scanner: 65535 bytes is a line, 65536 stops the scan; \r\n is stripped
    let s = h.scanLines(Buffer.from('a\r\n' + 'b'.repeat(65535) + '\nc'));
    assert.deepStrictEqual([s.lines.length, s.scanError, s.lines[0].bytes.toString()], [3, null, 'a']); n++;
    s = h.scanLines(Buffer.from('a\n' + 'b'.repeat(65536) + '\nc'));
    assert.strictEqual(s.lines.length, 1); assert.ok(s.scanError); n++;
    s = h.scanLines(Buffer.from('x'.repeat(65536)));
    assert.ok(s.scanError); n++;
    // whole parse: stderr first, no separator; prefixes; lower-casing
    let p = h.parsePluginOutput(Buffer.from('{"isSuccess":true,"name":"a"}\n'), Buffer.from('INFO: Hello\nwarn: W info: x\nDebugging\nplain'));
    assert.strictEqual(p.result, null); assert.match(p.parseError, /unexpected end/); n++;
    assert.deepStrictEqual(p.droppedLines.map((d) => d.from), ['both']); n++;
    p = h.parsePluginOutput(Buffer.from('{"isSuccess":true,"name":"a"}\n'), Buffer.from('INFO: Hello\nwarn: W info: x\nDebugging\nplain\n'));
    assert.strictEqual(p.result.isSuccess, true); n++;
    assert.deepStrictEqual(p.logs, [{ level: 'info', msg: 'hello' }, { level: 'warn', msg: 'w info: x' }, { level: 'debug', msg: 'debugging' }, { level: 'other', msg: 'plain' }]); n++;
    // Go per-byte U+FFFD
    assert.strictEqual(h.goUtf8(Buffer.from([0x61, 0xe2, 0x82, 0x62, 0xc0, 0xaf])), 'a\ufffd\ufffdb\ufffd\ufffd'); n++;
    return n;
}

// ---- main ----------------------------------------------------------------------

function usage() {
    return 'usage: node ratify-exec.js --plugin PATH [--env-file STATE/env] [--timeout-ms N]\n'
        + '       [--cache-dir DIR] [--request-out FILE] [--check] SAMPLE.json\n'
        + '       node ratify-exec.js --self-test\n';
}

function parseArgs(argv) {
    const a = { plugin: null, envFile: null, timeoutMs: DEFAULT_TIMEOUT_MS, cacheDir: null,
        requestOut: null, check: false, sample: null };
    for (let i = 0; i < argv.length; i++) {
        const k = argv[i];
        const val = () => {
            if (i + 1 >= argv.length) die(k + ' needs a value\n' + usage());
            return argv[++i];
        };
        if (k === '--plugin') a.plugin = val();
        else if (k === '--env-file') a.envFile = val();
        else if (k === '--timeout-ms') {
            const v = val();
            if (!/^[1-9][0-9]{0,6}$/.test(v)) die('--timeout-ms: want a positive integer, got ' + v);
            a.timeoutMs = Number(v);
        } else if (k === '--cache-dir') a.cacheDir = val();
        else if (k === '--request-out') a.requestOut = val();
        else if (k === '--check') a.check = true;
        else if (k === '--self-test') {
            process.stdout.write('ok ' + selfTest() + ' checks of the Go encoding/json and bufio emulation\n');
            process.exit(0);
        }
        else if (k === '-h' || k === '--help') { process.stdout.write(usage()); process.exit(0); }
        else if (k.startsWith('-')) die('unknown option ' + k + '\n' + usage());
        else if (a.sample === null) a.sample = k;
        else die('one SAMPLE.json only\n' + usage());
    }
    if (a.plugin === null || a.sample === null) die(usage());
    return a;
}

async function main() {
    const args = parseArgs(process.argv.slice(2));
    const plugin = path.resolve(args.plugin); // cwd is "/" for the plugin
    let sample;
    try {
        sample = JSON.parse(fs.readFileSync(args.sample, 'utf8'));
    } catch (e) {
        die(args.sample + ': ' + e.message);
    }
    if (!isPlainObject(sample)) die(args.sample + ': not a JSON object');
    if (!isPlainObject(sample.expect) && args.check) die(args.sample + ': no "expect" object');

    const vars = args.envFile !== null ? readEnvFile(args.envFile) : new Map();
    let cacheDir = args.cacheDir;
    let tempCache = null;
    const unknown = new Set();
    const lookup = (key) => {
        if (key === 'CACHE') {
            if (cacheDir === null) cacheDir = tempCache = fs.mkdtempSync(path.join(os.tmpdir(), 'ratify-exec-cache-'));
            return cacheDir;
        }
        if (vars.has(key)) return vars.get(key);
        unknown.add(key);
        return '@' + key + '@';
    };
    try {
        for (const k of ['env', 'stdin', 'stdinRaw', 'expect']) {
            if (sample[k] !== undefined) sample[k] = substitute(sample[k], lookup);
        }
        if (unknown.size > 0) {
            die(args.sample + ': unknown placeholder(s) ' + [...unknown].map((k) => '@' + k + '@').join(', ')
                + (args.envFile === null ? ' (no --env-file given)' : ' (not in ' + args.envFile + ')'));
        }
        const warnings = [];
        const stdinBuf = buildStdin(sample, warnings);
        for (const w of warnings) process.stderr.write('ratify-exec: warning: ' + w + '\n');

        // os.Environ() + the three variables; inherited RATIFY_VERIFIER_* are
        // dropped so that a sample can leave one out.
        const env = Object.assign({}, process.env);
        for (const k of RATIFY_VARS) delete env[k];
        const senv = sample.env === undefined ? {} : sample.env;
        requireType(senv, 'object', 'env');
        for (const k of Object.keys(senv)) {
            if (senv[k] === null) delete env[k];
            else { requireType(senv[k], 'string', 'env.' + k); env[k] = senv[k]; }
        }
        if (args.requestOut !== null) {
            let txt = '';
            for (const k of Object.keys(senv).sort()) txt += senv[k] === null ? '(unset ' + k + ')\n' : k + '=' + senv[k] + '\n';
            for (const k of RATIFY_VARS) if (!(k in senv)) txt += '(unset ' + k + ')\n';
            txt += 'stdin (' + stdinBuf.length + ' bytes; sent without a trailing newline):\n';
            fs.writeFileSync(args.requestOut, Buffer.concat([Buffer.from(txt), stdinBuf, Buffer.from('\n')]));
        }

        const run = await runPlugin(plugin, env, stdinBuf, args.timeoutMs);
        const report = { exitCode: null, killed: false, elapsedMs: null, result: null, parseError: null,
            pluginFailure: null, logs: [], droppedLines: [], jsonLines: [], scanError: null,
            rawStdout: '', rawStderr: '' };
        if (run.spawnError) {
            report.pluginFailure = 'fork/exec ' + plugin + ': ' + run.spawnError.message;
            process.stdout.write(JSON.stringify(report) + '\n');
            if (args.check) {
                process.stderr.write(args.sample + ': FAIL\n  - the plugin did not start: ' + run.spawnError.message + '\n');
                return 1;
            }
            return 0;
        }
        report.exitCode = run.exitCode;
        report.killed = run.killed;
        report.elapsedMs = Math.round(run.elapsedMs * 10) / 10;
        report.rawStdout = goUtf8(run.stdout);
        report.rawStderr = goUtf8(run.stderr);
        if (run.exitCode !== 0) {
            const why = run.signal ? 'signal: ' + (run.signal === 'SIGKILL' ? 'killed' : run.signal) : 'exit status ' + run.exitCode;
            report.pluginFailure = "plugin failed with error: '" + why + "', msg from stError '" + report.rawStderr
                + "', msg from stdOut '" + report.rawStdout + "'";
        } else {
            const p = parsePluginOutput(run.stdout, run.stderr);
            report.result = p.result;
            report.parseError = p.parseError;
            report.logs = p.logs;
            report.droppedLines = p.droppedLines;
            report.jsonLines = p.jsonLines;
            report.scanError = p.scanError;
        }
        let failures = [];
        if (args.check) {
            failures = check(sample, report, run, env, stdinBuf);
            report.failures = failures;
        }
        process.stdout.write(JSON.stringify(report) + '\n');
        if (args.check && failures.length > 0) {
            process.stderr.write(args.sample + ': FAIL'
                + (sample.description ? ' (' + sample.description + ')' : '') + '\n'
                + failures.map((x) => '  - ' + x + '\n').join(''));
            if (report.rawStderr !== '') process.stderr.write('  plugin stderr:\n' + report.rawStderr.replace(/\n$/, '').replace(/^/gm, '    | ') + '\n');
            if (report.rawStdout !== '') process.stderr.write('  plugin stdout:\n' + report.rawStdout.replace(/\n$/, '').replace(/^/gm, '    | ') + '\n');
            return 1;
        }
        return 0;
    } finally {
        if (tempCache !== null) fs.rmSync(tempCache, { recursive: true, force: true });
    }
}

module.exports = { goDecoderDecode, goUnmarshalValue, goMarshal, goUnmarshalResult, parsePluginOutput, scanLines, goUtf8, goString };

if (require.main === module) {
    main().then((code) => { process.exitCode = code; }, (e) => {
        process.stderr.write('ratify-exec: ' + (e instanceof HarnessError ? e.message : (e.stack || e)) + '\n');
        process.exitCode = 2;
    });
}
