#!/usr/bin/env bash
# The whole test suite: fetches the npm fixtures (real aos modules, the reference
# loader) if needed, checks formatting and vet, and runs every Go test, including
# the differential tests against @permaweb/ao-loader in node, then the loader's
# and the differential tests once more on the ahead-of-time tier.
#
#   ./scripts/test.sh            everything
#   ./scripts/test.sh -short     skip the slow differential scenarios
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

command -v go >/dev/null || { echo "test: Go 1.26+ is required" >&2; exit 1; }
command -v node >/dev/null || { echo "test: node 20+ and npm are required (fixtures and the reference loader)" >&2; exit 1; }
export CGO_ENABLED=1

./scripts/fixtures.sh

echo "test: gofmt" >&2
unformatted="$(gofmt -l cmd internal test tools)"
if [[ -n "$unformatted" ]]; then
  echo "test: gofmt needed on:" >&2
  echo "$unformatted" >&2
  exit 1
fi
echo "test: go vet" >&2
go vet ./...

# provide VAR WHAT COMMAND…: exports VAR as what COMMAND prints (it installs
# and starts what the tests need); without it, CI=true fails, else the tests
# that need WHAT are skipped.
provide() {
  local var=$1 what=$2 out
  shift 2
  if out="$("$@")"; then
    export "$var=$out"
  elif [[ "${CI:-}" == "true" ]]; then
    echo "test: CI=true and $what could not be set up ($*)" >&2
    exit 1
  else
    echo "test: no $what ($*): its tests are skipped" >&2
  fi
}
# A PostgreSQL server for the PostgreSQL store and the CU's end-to-end suite on
# PostgreSQL (installed with apt-get and started privately when missing).
[[ -n "${AOCU_TEST_POSTGRES_URL:-}" ]] || provide AOCU_TEST_POSTGRES_URL "PostgreSQL server" bash ./scripts/postgres.sh
# HAProxy for the three-CU cluster test (internal/servecmd TestClusterBehindHAProxy;
# the Debian package, installed with apt-get when missing).
provide AOCU_HAPROXY "HAProxy (the cluster test)" ./scripts/haproxy.sh
# The live oracle (test/oracle): the reference CU under Node 22, installed once
# into ~/.cache/aocu/oracle (about 7 minutes cold, instant when cached).
provide AOCU_ORACLE_DIR "reference CU (test/oracle)" ./scripts/oracle.sh

echo "test: go test" >&2
go test -count=1 -timeout 40m "$@" ./...
if [[ -n "${AOCU_TEST_POSTGRES_URL:-}" ]]; then
  echo "test: the CU's end-to-end suite on PostgreSQL" >&2
  # -short: the crash test replays 1,000 messages instead of 10,000 here.
  AOCU_TEST_DB=postgres go test -count=1 -short -timeout 40m "$@" ./internal/servecmd/
fi
echo "test: the loader and the differential suite on the ahead-of-time tier" >&2
# AOCU_TEST_TIER=aot: aos modules run as C compiled by wasm2c (npm wabt, from
# fixtures.sh) and cc; each module is compiled once (~30-60 s) and cached.
# The reference loaders ran live in the first pass; here aocu's output is
# checked against their recorded output (the golden files), which the first
# pass proved equal to the live one.
AOCU_TEST_TIER=aot AOCU_DIFF_LIVE=0 go test -count=1 -timeout 40m "$@" ./internal/loader/ ./test/difftest/
echo "test: ok" >&2
