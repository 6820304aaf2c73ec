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

echo "test: go test" >&2
go test -count=1 -timeout 40m "$@" ./...
echo "test: ok" >&2
