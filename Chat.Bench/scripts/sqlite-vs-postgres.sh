#!/bin/bash
# Run as root from a checkout with a Release build (dotnet build Chat.sln -c Release); needs Debian's postgresql.
# Side by side: SQLite and PostgreSQL (same box), max and fanout at 2,000/s; PostgreSQL's own CPU counted from /proc.
set -u
BIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
D=/tmp/pgbench
runuser -u postgres -- $BIN/pg_ctl -D $D/data -m fast -w stop >/dev/null 2>&1
rm -rf $D; mkdir -p $D; chown postgres $D
runuser -u postgres -- $BIN/initdb -D $D/data -U postgres --auth=trust --encoding=UTF8 --locale=C.UTF-8 -N >/dev/null
runuser -u postgres -- $BIN/pg_ctl -D $D/data -l $D/log -w -o "-c listen_addresses=127.0.0.1 -p 55432 -k $D -c max_connections=200" start >/dev/null
pgcpu() { # clock ticks: the postmaster's own and its reaped children's, plus every live backend's
  local pm=$(head -1 $D/data/postmaster.pid) t=0
  read -r a b c d <<< "$(cut -d' ' -f14,15,16,17 /proc/$pm/stat)"; t=$((a + b + c + d))
  for p in $(pgrep -P $pm); do s=$(cut -d' ' -f14,15 /proc/$p/stat 2>/dev/null); [ -n "$s" ] && t=$((t + ${s% *} + ${s#* })); done; echo $t; }
cd "$(dirname "$0")/../.."
run() { # store scenario args...
  local store=$1; shift
  local extra=()
  if [ $store = postgres ]; then
    runuser -u postgres -- psql -h $D -p 55432 -q -c "DROP DATABASE IF EXISTS bench" -c "CREATE DATABASE bench" postgres
    extra=(--server-arg --Chat:Database:Provider=Postgres --server-arg "--ConnectionStrings:Chat=Host=127.0.0.1;Port=55432;Username=postgres;Database=bench")
  fi
  local before=$(pgcpu)
  echo "=== $store $*"
  dotnet run -c Release --no-build --project Chat.Bench -- "$@" "${extra[@]}" 2>&1 | grep -vE "^\s*$" | tail -6
  local after=$(pgcpu)
  echo "postgres cpu: $(( (after - before) * 10 )) ms"
}
for round in 1 2; do
  run sqlite max --users 100 --window 16 --duration 10
  run postgres max --users 100 --window 16 --duration 10
  run sqlite fanout --users 100 --rate 2000 --duration 10
  run postgres fanout --users 100 --rate 2000 --duration 10
done
runuser -u postgres -- $BIN/pg_ctl -D $D/data -m fast -w stop >/dev/null
