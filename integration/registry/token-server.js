// A minimal Docker registry token server (distribution docs "Token
// Authentication Specification" and "Token Authentication Implementation"),
// for the loopback tests only: node:crypto, RS256, x5c header carrying the
// self-signed certificate that the registry trusts (rootcertbundle).
//
//   node token-server.js KEY CERT STATE
// Listens on 127.0.0.1:<free port>, writes the port to STATE/token.port and
// one line per request (query string and "basic"/"anonymous") to STATE/token.log.
// Accepts Basic alice:s3cret or anonymous (anonymous gets no access).
'use strict';
const http = require('node:http');
const crypto = require('node:crypto');
const fs = require('node:fs');
const [key, cert, state] = process.argv.slice(2);
const keyPem = fs.readFileSync(key, 'utf8');
const der = new crypto.X509Certificate(fs.readFileSync(cert)).raw.toString('base64');
const b64u = (b) => Buffer.from(b).toString('base64url');

http.createServer((req, res) => {
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
    const access = [];
    const scope = u.searchParams.get('scope') || '';
    const m = /^repository:([^:]+):(.+)$/.exec(scope);
    if (m && who === 'basic') {
        access.push({ type: 'repository', name: m[1], actions: m[2].split(',') });
    }
    const now = Math.floor(Date.now() / 1000);
    const header = { alg: 'RS256', typ: 'JWT', x5c: [der] };
    const claims = {
        iss: 'test-issuer', sub: who, aud: u.searchParams.get('service') || '',
        exp: now + 300, nbf: now - 10, iat: now, jti: crypto.randomBytes(8).toString('hex'),
        access,
    };
    const input = b64u(JSON.stringify(header)) + '.' + b64u(JSON.stringify(claims));
    const sig = crypto.createSign('RSA-SHA256').update(input).sign(keyPem);
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify({ token: input + '.' + b64u(sig), expires_in: 300 }));
}).listen(0, '127.0.0.1', function () {
    fs.writeFileSync(state + '/token.port', String(this.address().port));
});
