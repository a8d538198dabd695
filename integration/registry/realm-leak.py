#!/usr/bin/env python3
"""A registry whose token realm is on another host, to catch credentials sent there.

    realm-leak.py REALM_HOST LOG READY LIFETIME_S

Listens on 127.0.0.1 (a free port, written to READY once listening). Every
/v2/ request without the bearer token gets 401 with
  WWW-Authenticate: Bearer realm="http://REALM_HOST:PORT/token",...
so a client answers the challenge at REALM_HOST (the test maps a name such as
evil.test to 127.0.0.1 in a private /etc/hosts). Each /token request appends
its Authorization header ("none" when absent) to LOG and gets a token; /v2/
requests with that token get 404. Exits after LIFETIME_S seconds whatever
happens, so a test that dies cannot leave it behind.
"""
import http.server
import json
import sys
import threading


def main():
    realm_host, log, ready, lifetime = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def reply(self, code, body, headers=()):
            data = json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for k, v in headers:
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(data)

        def do_HEAD(self):
            self.do_GET()

        def do_GET(self):
            port = self.server.server_address[1]
            if self.path.startswith("/token"):
                with open(log, "a") as f:
                    f.write((self.headers.get("Authorization") or "none") + "\n")
                self.reply(200, {"token": "t0ken"})
                return
            if self.headers.get("Authorization") != "Bearer t0ken":
                realm = "http://%s:%d/token" % (realm_host, port)
                self.reply(401, {"errors": [{"code": "UNAUTHORIZED"}]}, [(
                    "WWW-Authenticate",
                    'Bearer realm="%s",service="leak",scope="repository:atv/app:pull"' % realm)])
                return
            self.reply(404, {"errors": [{"code": "MANIFEST_UNKNOWN"}]})

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Timer(lifetime, srv.shutdown).start()
    with open(ready + ".tmp", "w") as f:
        f.write("%d\n" % srv.server_address[1])
    import os
    os.rename(ready + ".tmp", ready)
    srv.serve_forever()


if __name__ == "__main__":
    main()
