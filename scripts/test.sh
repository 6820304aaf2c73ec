#!/usr/bin/env bash
# The whole test suite: fetches the npm fixtures (real aos modules, the reference
# loader) if needed, checks formatting and vet, and runs every Go test, including
# the differential tests against @permaweb/ao-loader in node.
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
unformatted="$(gofmt -l cmd internal test)"
if [[ -n "$unformatted" ]]; then
  echo "test: gofmt needed on:" >&2
  echo "$unformatted" >&2
  exit 1
fi
echo "test: go vet" >&2
go vet ./...

# A PostgreSQL server for the PostgreSQL store and the CU's end-to-end suite on
# PostgreSQL (installed with apt-get and started privately when missing).
if [[ -z "${AOCU_TEST_POSTGRES_URL:-}" ]]; then
  if url="$(bash ./scripts/postgres.sh)"; then
    export AOCU_TEST_POSTGRES_URL="$url"
  elif [[ "${CI:-}" == "true" ]]; then
    echo "test: CI=true and no PostgreSQL server could be started" >&2
    exit 1
  else
    echo "test: no PostgreSQL server: its tests are skipped" >&2
  fi
fi

# HAProxy for the three-CU cluster test (internal/servecmd TestClusterBehindHAProxy;
# the Debian package, installed with apt-get when missing).
if bin="$(./scripts/haproxy.sh)"; then
  export AOCU_HAPROXY="$bin"
elif [[ "${CI:-}" == "true" ]]; then
  echo "test: CI=true and HAProxy could not be installed (scripts/haproxy.sh)" >&2
  exit 1
else
  echo "test: no HAProxy: the cluster test is skipped" >&2
fi

# The live oracle (test/oracle): the reference CU under Node 22, installed once
# into ~/.cache/aocu/oracle (about 7 minutes cold, instant when cached).
if dir="$(./scripts/oracle.sh)"; then
  export AOCU_ORACLE_DIR="$dir"
elif [[ "${CI:-}" == "true" ]]; then
  echo "test: CI=true and the reference CU could not be installed (scripts/oracle.sh)" >&2
  exit 1
else
  echo "test: the reference CU could not be installed (scripts/oracle.sh): test/oracle is skipped" >&2
fi

echo "test: go test" >&2
go test -count=1 -timeout 40m "$@" ./...
if [[ -n "${AOCU_TEST_POSTGRES_URL:-}" ]]; then
  echo "test: the CU's end-to-end suite on PostgreSQL" >&2
  # -short: the crash test replays 1,000 messages instead of 10,000 here.
  AOCU_TEST_DB=postgres go test -count=1 -short -timeout 40m "$@" ./internal/servecmd/
fi
echo "test: ok" >&2
