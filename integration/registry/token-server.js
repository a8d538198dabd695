// A minimal Docker registry token server (distribution docs "Token
// Authentication Specification" and "Token Authentication Implementation"),
// for the loopback tests only: node:crypto, RS256, x5c header carrying the
// self-signed certificate that the registry trusts (rootcertbundle).
//
//   node token-server.js KEY CERT STATE
// Listens on 127.0.0.1:<free port>, writes the port to STATE/token.port and
// one line per request (query string and "basic"/"anonymous") to STATE/token.log.
// Accepts Basic alice:s3cret or anonymous (anonymous gets no access).
//
// POST: the OAuth2 refresh-token grant (distribution "OAuth2 Token
// Authentication"; what oras-go sends for a Docker config "identitytoken"):
// an application/x-www-form-urlencoded body with grant_type=refresh_token,
// refresh_token, service, scope, client_id. The one refresh token it knows is
// the content of STATE/refresh.token (written by up.sh). It answers
// {"access_token": JWT} with the same access as alice, 400 invalid_grant for
// another token, 400 for anything else malformed. Its log line is
// "POST grant=.. service=.. scope=.. client_id=.. ok|refused" (never the token).
'use strict';
const http = require('node:http');
const crypto = require('node:crypto');
const fs = require('node:fs');
const [key, cert, state] = process.argv.slice(2);
const keyPem = fs.readFileSync(key, 'utf8');
const der = new crypto.X509Certificate(fs.readFileSync(cert)).raw.toString('base64');
const b64u = (b) => Buffer.from(b).toString('base64url');
const refreshFile = state + '/refresh.token';
const BODY_MAX = 65536;

function jwt(who, service, scope) {
    const access = [];
    const m = /^repository:([^:]+):(.+)$/.exec(scope || '');
    if (m && who !== 'anonymous') {
        access.push({ type: 'repository', name: m[1], actions: m[2].split(',') });
    }
    const now = Math.floor(Date.now() / 1000);
    const header = { alg: 'RS256', typ: 'JWT', x5c: [der] };
    const claims = {
        iss: 'test-issuer', sub: who, aud: service || '',
        exp: now + 300, nbf: now - 10, iat: now, jti: crypto.randomBytes(8).toString('hex'),
        access,
    };
    const input = b64u(JSON.stringify(header)) + '.' + b64u(JSON.stringify(claims));
    const sig = crypto.createSign('RSA-SHA256').update(input).sign(keyPem);
    return input + '.' + b64u(sig);
}

function refreshGrant(req, res) {
    const chunks = [];
    let len = 0;
    req.on('data', (c) => {
        len += c.length;
        if (len > BODY_MAX) {
            res.writeHead(413);
            res.end();
            req.destroy();
            return;
        }
        chunks.push(c);
    });
    req.on('end', () => {
        if (len > BODY_MAX) {
            return;
        }
        const ctype = (req.headers['content-type'] || '').split(';')[0].trim();
        const f = new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
        const known = fs.existsSync(refreshFile) ? fs.readFileSync(refreshFile, 'utf8').trim() : '';
        const good = ctype === 'application/x-www-form-urlencoded' &&
            f.get('grant_type') === 'refresh_token' && known !== '' &&
            f.get('refresh_token') === known && f.get('client_id') === 'atcr-verify';
        fs.appendFileSync(state + '/token.log', 'POST grant=' + f.get('grant_type') +
            ' service=' + f.get('service') + ' scope=' + f.get('scope') +
            ' client_id=' + f.get('client_id') + ' ' + (good ? 'ok' : 'refused') + '\n');
        if (!good) {
            res.writeHead(400, { 'Content-Type': 'application/json' });
            res.end('{"error":"invalid_grant"}');
            return;
        }
        res.writeHead(200, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify({
            access_token: jwt('refresh', f.get('service'), f.get('scope')),
            refresh_token: known, expires_in: 300,
        }));
    });
}

http.createServer((req, res) => {
    if (req.method === 'POST') {
        refreshGrant(req, res);
        return;
    }
    const u = new URL(req.url, 'http://x');
    const auth = req.headers.authorization || '';
    let who = 'anonymous';
    if (auth.startsWith('Basic ')) {
        const [user, pass] = Buffer.from(auth.slice(6), 'base64').toString().split(':');
        if (user !== 'alice' || pass !== 's3cret') {
            res.writeHead(401);
            res.end('{"errors":[{"code":"UNAUTHORIZED"}]}');
            return;
        }
        who = 'basic';
    }
    fs.appendFileSync(state + '/token.log', u.search + ' ' + who + '\n');
    const tok = jwt(who, u.searchParams.get('service'), u.searchParams.get('scope'));
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify({ token: tok, expires_in: 300 }));
}).listen(0, '127.0.0.1', function () {
    fs.writeFileSync(state + '/token.port', String(this.address().port));
});
