#!/usr/bin/env bash
# Makes a local PostgreSQL server available for tests (internal/store/pgstore)
# and prints its URL, and only that, on stdout:
#
#   url="$(./scripts/postgres.sh)"     e.g. postgres://aocu@127.0.0.1:54329/aocu_test?sslmode=disable
#
# - If AOCU_TEST_POSTGRES_URL is set, that is the answer: nothing is installed
#   or started.
# - Otherwise the PostgreSQL server binaries are found (/usr/lib/postgresql/*/bin,
#   else PATH) or installed with `apt-get install -y postgresql` (as root, else
#   through `sudo -n`), and a private throw-away cluster is created and started
#   in AOCU_POSTGRES_DIR (default ${TMPDIR:-/tmp}/aocu-postgres-<uid>): trust
#   authentication, listening on 127.0.0.1 only, on a free port from 54329 up,
#   fsync off. PostgreSQL refuses to run as root, so as root the cluster runs as
#   the `postgres` user (created by the package; else a system user
#   `aocu-postgres` is added) through runuser.
# - The database aocu_test (superuser aocu) is created if missing.
#
# Idempotent and quick when the cluster is already up (one status check and
# one query); concurrent callers are serialised with flock. The server is
# left running; stop it with:
#   pg_ctl -D "${TMPDIR:-/tmp}/aocu-postgres-$(id -u)/data" stop   (as the user that owns it)
# Everything but the URL goes to stderr; the exit code is non-zero when no
# server could be made available.
set -euo pipefail

if [[ -n "${AOCU_TEST_POSTGRES_URL:-}" ]]; then
  printf '%s\n' "$AOCU_TEST_POSTGRES_URL"
  exit 0
fi

log() { echo "postgres.sh: $*" >&2; }
die() {
  log "$*"
  exit 1
}

base="${AOCU_POSTGRES_DIR:-${TMPDIR:-/tmp}/aocu-postgres-$(id -u)}"
data="$base/data"
dbname=aocu_test
dbuser=aocu
first_port=54329

is_root() { [[ "$(id -u)" -eq 0 ]]; }

# as_root runs a command as root: directly, or with passwordless sudo.
as_root() {
  if is_root; then
    "$@"
  elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    sudo -n "$@"
  else
    return 1
  fi
}

# find_bindir prints the directory holding initdb, pg_ctl and postgres.
find_bindir() {
  local d
  for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -t/ -k5,5 -n -r); do
    if [[ -x "$d/initdb" && -x "$d/pg_ctl" && -x "$d/postgres" ]]; then
      echo "$d"
      return 0
    fi
  done
  if command -v initdb >/dev/null 2>&1 && command -v pg_ctl >/dev/null 2>&1; then
    d="$(dirname "$(readlink -f "$(command -v initdb)")")"
    if [[ -x "$d/pg_ctl" && -x "$d/postgres" ]]; then
      echo "$d"
      return 0
    fi
  fi
  return 1
}

install_postgres() {
  command -v apt-get >/dev/null 2>&1 || die "PostgreSQL is not installed and there is no apt-get to install it"
  as_root true || die "PostgreSQL is not installed, and installing it needs root or passwordless sudo"
  log "installing PostgreSQL with apt-get (once)"
  local apt=(env DEBIAN_FRONTEND=noninteractive apt-get -q -y -o Dpkg::Use-Pty=0)
  # Try the lists we have first; on a fresh machine they are empty or stale.
  if ! as_root "${apt[@]}" install --no-install-recommends postgresql >&2; then
    as_root "${apt[@]}" update >&2 || die "apt-get update failed"
    as_root "${apt[@]}" install --no-install-recommends postgresql >&2 || die "apt-get install postgresql failed"
  fi
}

bindir="$(find_bindir)" || {
  install_postgres
  bindir="$(find_bindir)" || die "PostgreSQL was installed but initdb/pg_ctl/postgres were not found"
}

mkdir -p "$(dirname "$base")"
if command -v flock >/dev/null 2>&1; then
  exec 9>>"$base.lock"
  flock -w 300 9 || die "timed out waiting for $base.lock"
fi

# The cluster's OS user: ourselves, or as root a non-root user.
pguser="$(id -un)"
if is_root; then
  if [[ -d "$data" && "$(stat -c %U "$data")" != root ]]; then
    pguser="$(stat -c %U "$data")"
  elif id -u postgres >/dev/null 2>&1; then
    pguser=postgres
  else
    pguser=aocu-postgres
    id -u "$pguser" >/dev/null 2>&1 ||
      useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$pguser" >&2 ||
      die "could not create the user $pguser"
  fi
fi
as_pg() {
  if [[ "$pguser" == "$(id -un)" ]]; then
    "$@"
  else
    runuser -u "$pguser" -- "$@"
  fi
}

port_busy() { (: </dev/tcp/127.0.0.1/"$1") 2>/dev/null; }

psql_q() {
  "$bindir/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U "$dbuser" -d postgres -tA -c "$1"
}

print_url() {
  if [[ -z "$(psql_q "SELECT 1 FROM pg_database WHERE datname = '$dbname'")" ]]; then
    psql_q "CREATE DATABASE $dbname ENCODING 'UTF8' TEMPLATE template0" >/dev/null || die "could not create database $dbname"
  fi
  printf 'postgres://%s@127.0.0.1:%s/%s?sslmode=disable\n' "$dbuser" "$port" "$dbname"
}

# The running server of the cluster, from its postmaster.pid (PID on line 1,
# port on line 4): prints the port if that PID is a live postgres.
running_port() {
  local pidfile="$data/postmaster.pid" pid comm
  [[ -f "$pidfile" ]] || return 1
  pid="$(sed -n 1p "$pidfile")"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  comm="$(cat "/proc/$pid/comm" 2>/dev/null)" || return 1
  [[ "$comm" == postgres* ]] || return 1
  sed -n 4p "$pidfile"
}

# Fast path: our cluster is already running (wait for it if it is starting).
if [[ -f "$data/PG_VERSION" ]] && port="$(running_port)" && [[ -n "$port" ]]; then
  for _ in $(seq 1 60); do
    if "$bindir/pg_isready" -q -h 127.0.0.1 -p "$port" 2>/dev/null; then
      print_url
      exit 0
    fi
    sleep 1
  done
  die "the cluster in $data runs but does not answer on 127.0.0.1:$port (log: $base/server.log)"
fi
# A postmaster.pid left by a server that is gone (a reboot, a kill): if its
# PID now belongs to another program, PostgreSQL would refuse to start.
if [[ -f "$data/postmaster.pid" ]]; then
  log "removing the stale $data/postmaster.pid"
  rm -f "$data/postmaster.pid"
fi

mkdir -p "$base"
if is_root; then
  chown "$pguser" "$base"
fi
chmod 0755 "$base"

if [[ ! -f "$data/PG_VERSION" ]]; then
  rm -rf "$data"
  log "creating a cluster in $data (user $pguser)"
  as_pg "$bindir/initdb" -D "$data" -U "$dbuser" --auth=trust -E UTF8 --no-locale --no-sync \
    >"$base/initdb.log" 2>&1 || {
    cat "$base/initdb.log" >&2
    die "initdb failed"
  }
  # Test settings: local only, no durability, room for several test binaries.
  as_pg tee -a "$data/postgresql.conf" >/dev/null <<EOF

# scripts/postgres.sh: a throw-away cluster for tests
listen_addresses = '127.0.0.1'
unix_socket_directories = '$base'
max_connections = 200
fsync = off
synchronous_commit = off
full_page_writes = off
EOF
fi

# A free port: the last one used if it is still free, else the first free one.
port=""
if [[ -f "$base/port" ]] && ! port_busy "$(cat "$base/port")"; then
  port="$(cat "$base/port")"
else
  for p in $(seq "$first_port" $((first_port + 200))); do
    if ! port_busy "$p"; then
      port="$p"
      break
    fi
  done
fi
[[ -n "$port" ]] || die "no free port from $first_port up"

log "starting PostgreSQL ($bindir) on 127.0.0.1:$port"
# 9>&-: the server must not inherit (and hold) the lock.
if ! as_pg "$bindir/pg_ctl" -D "$data" -l "$base/server.log" -o "-p $port" -w -t 60 start </dev/null >/dev/null 2>&1 9>&-; then
  tail -n 30 "$base/server.log" >&2 2>/dev/null || true
  die "pg_ctl start failed (log: $base/server.log)"
fi
echo "$port" >"$base/port"
print_url
