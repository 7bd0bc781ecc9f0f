#!/usr/bin/env bash
# Checks of the deployment files that need neither a Docker daemon nor a Kubernetes cluster
# (docs/deploy.md, "What is checked where"). Installs what it lacks, can be run again, and exits
# non-zero when any check fails:
#
#   compose    `docker-compose config -q` (Debian's docker-compose 1.29) accepts compose/compose.yaml,
#              and so does `docker compose config -q` where the v2 plugin exists
#   yamllint   compose/, observability/, the chart's Chart.yaml, values.yaml and ci/ (.yamllint.yaml)
#   files      scripts/check_deploy.py: values.yaml (and ci/*-values.yaml) against values.schema.json,
#              template references and blocks, the Dockerfile against the workspace, compose mounts
#
# Needs root (or sudo) only to apt-get install docker-compose and yamllint when they are missing;
# Python packages go to a venv in .local/venv-deploy.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
VENV="$ROOT/.local/venv-deploy"
LOG_DIR="$ROOT/.local/check-deploy"
mkdir -p "$LOG_DIR"

log() { printf 'check-deploy: %s\n' "$*"; }
die() { printf 'check-deploy: %s\n' "$*" >&2; exit 2; }

as_root() {
    if [[ $(id -u) -eq 0 ]]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo "$@"
    else
        die "need root (or sudo) to run: $*"
    fi
}

apt_install() {
    log "installing $* (apt-get)"
    if ! as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq >"$LOG_DIR/apt.log" 2>&1 ||
        ! as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" \
            >>"$LOG_DIR/apt.log" 2>&1; then
        cat "$LOG_DIR/apt.log" >&2
        die "apt-get install $* failed"
    fi
}

# --- tools ------------------------------------------------------------------------------------
missing=()
command -v docker-compose >/dev/null 2>&1 || missing+=(docker-compose)
command -v yamllint >/dev/null 2>&1 || missing+=(yamllint)
((${#missing[@]} == 0)) || apt_install "${missing[@]}"

PY="$VENV/bin/python"
if ! "$PY" -c 'import jsonschema, yaml, tomllib' >/dev/null 2>&1; then
    log "creating $VENV (jsonschema, PyYAML)"
    rm -rf "$VENV"
    if ! python3 -m venv "$VENV" >"$LOG_DIR/venv.log" 2>&1; then
        # Debian's python3 ships venv separately.
        apt_install python3-venv
        /usr/bin/python3 -m venv "$VENV" >"$LOG_DIR/venv.log" 2>&1 || { cat "$LOG_DIR/venv.log" >&2; die "cannot create $VENV"; }
    fi
    "$VENV/bin/pip" install -q --disable-pip-version-check 'jsonschema>=4.17,<5' 'PyYAML>=6,<7' \
        >>"$LOG_DIR/venv.log" 2>&1 || { cat "$LOG_DIR/venv.log" >&2; die "pip install into $VENV failed"; }
    "$PY" -c 'import jsonschema, yaml, tomllib' || die "$VENV lacks jsonschema, PyYAML or tomllib (Python 3.11+ is needed)"
fi

# --- checks -----------------------------------------------------------------------------------
failed=()

run_check() {
    local name=$1
    shift
    local out="$LOG_DIR/${name%% *}.log"
    if "$@" >"$out" 2>&1; then
        log "$name: ok"
    else
        log "$name: FAILED ($*)"
        sed 's/^/  /' "$out"
        failed+=("$name")
    fi
}

# The compose file must parse without the variables a user may set (ORDERS_IMAGE, ...).
run_check "compose (docker-compose $(docker-compose version --short 2>/dev/null || echo '?'))" \
    docker-compose -f compose/compose.yaml config -q
if docker compose version >/dev/null 2>&1; then
    run_check "compose-v2 (docker compose)" docker compose -f compose/compose.yaml config -q
fi

run_check "yamllint" yamllint --strict -c .yamllint.yaml \
    compose observability .yamllint.yaml \
    helm/orders-pipeline/Chart.yaml helm/orders-pipeline/values.yaml helm/orders-pipeline/ci

# Its own report lists each check (values, templates, image, compose).
if "$PY" scripts/check_deploy.py; then
    :
else
    failed+=("files")
fi

if ((${#failed[@]})); then
    log "${#failed[@]} failed: ${failed[*]}"
    exit 1
fi
log "all passed"
