'use strict';
// Runs the real PLC directory (npm @did-plc/server, its PlcServer and
// routes, unmodified) with its in-memory mock database, bound to 127.0.0.1.
//
//   ATV_STACK_DIR=<cache>/stack node run-plc.js PORT OPS_FILE
//
// Differences from the upstream service/index.js, and why:
//   - Database.mock() instead of PostgreSQL: the mock is the upstream test
//     database; no postgres cluster to run as a non-root user.
//   - app.listen is wrapped to bind 127.0.0.1: upstream calls
//     app.listen(port), which binds every interface.
//   - The mock lives in memory, so a stopped PLC would forget every DID. The
//     tests stop and restart it (down.sh STATE plc / up.sh STATE plc), so
//     every accepted operation is appended to OPS_FILE and, at start, the
//     file is replayed through the database's own validateAndAddOp (the
//     same signature and chain checks as a live POST).
//   - SIGTERM: destroy, then exit within STOP_GRACE_MS whatever is pending.
const fs = require('fs');

const STOP_GRACE_MS = 3000;
const HOST = '127.0.0.1';

function fail(msg) {
    process.stderr.write('run-plc: ' + msg + '\n');
    process.exit(1);
}

async function main() {
    const [portArg, opsFile] = process.argv.slice(2);
    if (!/^[1-9][0-9]{0,4}$/.test(portArg || '') || Number(portArg) > 65535 || !opsFile) {
        fail('usage: node run-plc.js PORT OPS_FILE (ATV_STACK_DIR set)');
    }
    const stack = process.env.ATV_STACK_DIR;
    if (!stack) fail('ATV_STACK_DIR is not set');
    const plcPath = require.resolve('@did-plc/server', { paths: [stack] });
    const { Database, PlcServer } = require(plcPath);

    const db = Database.mock();
    // replay what an earlier run of this state accepted
    let replayed = 0;
    if (fs.existsSync(opsFile)) {
        for (const line of fs.readFileSync(opsFile, 'utf8').split('\n')) {
            if (line === '') continue;
            const { did, operation } = JSON.parse(line);
            await db.validateAndAddOp(did, operation);
            replayed++;
        }
    }
    const add = db.validateAndAddOp.bind(db);
    db.validateAndAddOp = async (did, op) => {
        await add(did, op);
        // only accepted operations reach the file; appendFileSync before the
        // 200 answer, so an acknowledged DID survives a restart
        fs.appendFileSync(opsFile, JSON.stringify({ did, operation: op }) + '\n');
    };

    const plc = PlcServer.create({ db, port: Number(portArg), version: '0.0.1-atv' });
    const listen = plc.app.listen.bind(plc.app);
    plc.app.listen = (port, ...rest) => listen(port, HOST, ...rest);
    const server = await plc.start();
    const addr = server.address();
    if (!addr || addr.address !== HOST) fail('bound ' + JSON.stringify(addr) + ', not ' + HOST);
    process.stderr.write('run-plc: listening on ' + HOST + ':' + addr.port + ' (replayed ' + replayed + ' ops)\n');

    process.on('SIGTERM', () => {
        setTimeout(() => process.exit(0), STOP_GRACE_MS).unref();
        plc.destroy().then(() => process.exit(0), () => process.exit(0));
    });
}

main().catch((e) => fail(e && e.stack ? e.stack : String(e)));
