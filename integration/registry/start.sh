# integration/registry/start.sh: sourced by the loopback up.sh scripts.
#
# start_registry STATE PIDFILE LIFETIME_S [AUTH_YAML]
#   Starts Debian's docker-registry (distribution 2.8) on 127.0.0.1:<free port>
#   with storage in STATE/data, under `timeout LIFETIME_S` so that a lost test
#   cannot leave it running; retries on another port when one is taken. Sets
#   PORT; returns 1 (after printing the log) when it does not come up within
#   5 tries of 5 s.
start_registry() {
    _st=$1 _pidf=$2 _life=$3 _auth=${4:-}
    _reg=${ATV_DOCKER_REGISTRY:-/usr/bin/docker-registry}
    [ -x "$_reg" ] || { echo "up.sh: $_reg not found (apt package docker-registry)" >&2; return 3; }
    mkdir -p "$_st/data"
    _started=0
    for _try in 1 2 3 4 5; do
        PORT=$(shuf -i 20000-60999 -n 1)
        cat > "$_st/config.yml" <<YML
version: 0.1
log: { level: error }
storage:
  filesystem: { rootdirectory: $_st/data }
  delete: { enabled: true }
http:
  addr: 127.0.0.1:$PORT
  secret: test-only-secret
$_auth
YML
        timeout "$_life" "$_reg" serve "$_st/config.yml" > "$_st/registry.log" 2>&1 &
        echo $! > "$_pidf"
        _i=0
        while [ $_i -lt 50 ]; do
            if ! kill -0 "$(cat "$_pidf")" 2>/dev/null; then
                break # exited: port taken? try another
            fi
            _code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 \
                "http://127.0.0.1:$PORT/v2/" || true)
            if [ "$_code" = 200 ] || [ "$_code" = 401 ]; then
                _started=1
                break
            fi
            sleep 0.1
            _i=$((_i + 1))
        done
        [ $_started = 1 ] && return 0
        kill "$(cat "$_pidf")" 2>/dev/null || true
    done
    echo "up.sh: registry did not start" >&2
    cat "$_st/registry.log" >&2
    return 1
}
