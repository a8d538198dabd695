'use strict';
// Runs the real ATProto PDS (npm @atproto/pds, unmodified) bound to
// 127.0.0.1. Configuration comes from the PDS_* environment exactly as in the
// upstream service/index.js (readEnv -> envToCfg / envToSecrets ->
// PDS.create -> start); up.sh sets it.
//
//   ATV_STACK_DIR=<cache>/stack PDS_...=... node run-pds.js
//
// Differences from upstream, and why:
//   - app.listen is wrapped to bind 127.0.0.1 (upstream: app.listen(port),
//     every interface).
//   - @atproto/pds is ESM and lives in the cache outside the clone, so it is
//     imported by its resolved file URL.
//   - SIGTERM: destroy, then exit within STOP_GRACE_MS whatever is pending.
const { pathToFileURL } = require('url');

const STOP_GRACE_MS = 3000;
const HOST = '127.0.0.1';

function fail(msg) {
    process.stderr.write('run-pds: ' + msg + '\n');
    process.exit(1);
}

async function main() {
    const stack = process.env.ATV_STACK_DIR;
    if (!stack) fail('ATV_STACK_DIR is not set');
    const pdsPath = require.resolve('@atproto/pds', { paths: [stack] });
    const mod = await import(pathToFileURL(pdsPath).href);
    const { PDS, envToCfg, envToSecrets, readEnv } = mod;

    const env = readEnv();
    env.version = env.version || '0.0.0-atv';
    const cfg = envToCfg(env);
    const secrets = envToSecrets(env);
    const pds = await PDS.create(cfg, secrets);
    const listen = pds.app.listen.bind(pds.app);
    pds.app.listen = (port, ...rest) => listen(port, HOST, ...rest);
    const server = await pds.start();
    const addr = server.address();
    if (!addr || addr.address !== HOST) fail('bound ' + JSON.stringify(addr) + ', not ' + HOST);
    process.stderr.write('run-pds: listening on ' + HOST + ':' + addr.port + ', public URL ' + cfg.service.publicUrl + '\n');

    process.on('SIGTERM', () => {
        setTimeout(() => process.exit(0), STOP_GRACE_MS).unref();
        pds.destroy().then(() => process.exit(0), () => process.exit(0));
    });
}

main().catch((e) => fail(e && e.stack ? e.stack : String(e)));
