#!/bin/bash
# Run as root from a checkout with a Release build (dotnet build Chat.sln -c Release); needs Debian's postgresql,
# redis-server, nginx, curl and jq.
# Two Chat.Server nodes sharing one PostgreSQL and one Redis behind nginx (docs/nginx/chat-cluster.conf), against one
# node on the same PostgreSQL store, directly and through the same nginx config. Each setup gets a fresh database and
# fresh node processes; Chat.Bench runs `fanout` at each of $RATES and then `max` against it with --url.
# Server-side CPU (both nodes, PostgreSQL, Redis, nginx) is read from /proc (utime+stime, plus reaped children) from
# the start of the measured phase (the bench's "fanout: ..." / "max: ..." line, after its warm-up) to the bench's exit,
# and divided by the messages delivered in the measured phase.
# Everything lives under one temporary directory and is stopped and deleted at the end.
#   RATES="500 1000 2000" ROUNDS=1 SETUPS="cluster one one-nginx one-redis" DURATION=10 NODE_WARMUP=1 Chat.Bench/scripts/cluster.sh
set -u
RATES=${RATES:-"500 1000 2000"}
ROUNDS=${ROUNDS:-1}
SETUPS=${SETUPS:-"cluster one one-nginx one-redis"}   # one-redis: one node with the Redis backplane, directly
DURATION=${DURATION:-10}
NODE_WARMUP=${NODE_WARMUP:-1}
USERS=${USERS:-100}
PG_PORT=47432 REDIS_PORT=47379 NGINX_PORT=47080 NODE1_PORT=47081 NODE2_PORT=47082

cd "$(dirname "$0")/../.."
ROOT=$PWD
DLL=$ROOT/Chat.Server/bin/Release/net10.0/Chat.Server.dll
[ -f "$DLL" ] || { echo "no Release build: dotnet build Chat.sln -c Release" >&2; exit 1; }
for p in $PG_PORT $REDIS_PORT $NGINX_PORT $NODE1_PORT $NODE2_PORT; do
  if (exec 3<>/dev/tcp/127.0.0.1/$p) 2>/dev/null; then echo "port $p is in use" >&2; exit 1; fi
done
BIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
T=$(mktemp -d /tmp/chat-cluster-bench.XXXXXX); chmod 755 $T
mkdir -p $T/pg $T/redis $T/nginx; chown postgres $T/pg
NODE_PIDS=() REDIS_PID= NGINX_PID=

cleanup() {
  stop_nginx; stop_nodes
  [ -n "$REDIS_PID" ] && { kill $REDIS_PID 2>/dev/null; wait $REDIS_PID 2>/dev/null; }
  runuser -u postgres -- $BIN/pg_ctl -D $T/pg/data -m fast -w stop >/dev/null 2>&1
  rm -rf $T
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- CPU in clock ticks, from /proc --------------------------------------------------------------------------------
ticks() { # pid [with reaped children]: utime+stime (+cutime+cstime)
  local s; s=$(cut -d' ' -f14-17 /proc/$1/stat 2>/dev/null) || { echo 0; return; }
  read -r a b c d <<< "$s"; [ "${2:-}" = children ] && echo $((a + b + c + d)) || echo $((a + b)); }
tree_ticks() { # a master and its live children (PostgreSQL backends, nginx workers)
  local t; t=$(ticks $1 children)
  for c in $(pgrep -P $1); do t=$((t + $(ticks $c))); done; echo $t; }
pg_ticks() { tree_ticks "$(head -1 $T/pg/data/postmaster.pid)"; }
snapshot() { # node1 node2 postgres redis nginx
  local n1=0 n2=0 ng=0
  [ ${#NODE_PIDS[@]} -ge 1 ] && n1=$(ticks ${NODE_PIDS[0]})
  [ ${#NODE_PIDS[@]} -ge 2 ] && n2=$(ticks ${NODE_PIDS[1]})
  [ -n "$NGINX_PID" ] && ng=$(tree_ticks $NGINX_PID)
  echo "$n1 $n2 $(pg_ticks) $(ticks $REDIS_PID) $ng $(date +%s%N) $(gap_fills)"; }
gap_fills() { cat $T/node*.log 2>/dev/null | grep -c 'Filled the message stream'; }
HZ=$(getconf CLK_TCK)

# --- PostgreSQL and Redis: one of each for the whole run ------------------------------------------------------------
runuser -u postgres -- $BIN/initdb -D $T/pg/data -U postgres --auth=trust --encoding=UTF8 --locale=C.UTF-8 -N >/dev/null
runuser -u postgres -- $BIN/pg_ctl -D $T/pg/data -l $T/pg/log -w -o "-c listen_addresses=127.0.0.1 -p $PG_PORT -k $T/pg -c max_connections=200" start >/dev/null || { cat $T/pg/log; exit 1; }
redis-server --port $REDIS_PORT --bind 127.0.0.1 --save "" --appendonly no --dir $T/redis --logfile $T/redis/log &
REDIS_PID=$!
for i in $(seq 50); do redis-cli -p $REDIS_PORT ping >/dev/null 2>&1 && break; sleep 0.1; done

# --- nodes ----------------------------------------------------------------------------------------------------------
start_node() { # port with-redis(yes|no) log
  local extra=()
  [ $2 = yes ] && extra=("--ConnectionStrings:Redis=127.0.0.1:$REDIS_PORT")
  (cd $(dirname $DLL) && exec dotnet $DLL --urls http://127.0.0.1:$1 --Chat:Database:Provider=Postgres \
    "--ConnectionStrings:Chat=Host=127.0.0.1;Port=$PG_PORT;Username=postgres;Database=bench" "${extra[@]}" \
    --Chat:RateLimit:MessagesPerSecond=0 --Chat:MaxSocketsPerUser=10000 \
    --Logging:LogLevel:Default=Warning --Logging:LogLevel:Microsoft.Hosting.Lifetime=Information \
    --Logging:LogLevel:Chat.Server.Cluster.StreamSequencer=Debug >$3 2>&1) &
  NODE_PIDS+=($!)
  for i in $(seq 300); do
    [ "$(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:$1/healthz)" = 200 ] && return 0; sleep 0.1
  done
  echo "node on :$1 not healthy; its log:" >&2; cat $3 >&2; exit 1
}
stop_nodes() {
  for p in "${NODE_PIDS[@]}"; do kill $p 2>/dev/null; done
  for p in "${NODE_PIDS[@]}"; do wait $p 2>/dev/null; done
  NODE_PIDS=()
}

# --- nginx: the documented config, placeholders filled, logs/pid/temp files under $T/nginx -------------------------
start_nginx() { # node1 node2 (host:port)
  local d=$T/nginx
  CHAT_LISTEN=127.0.0.1:$NGINX_PORT CHAT_NODE_1=$1 CHAT_NODE_2=$2 \
    envsubst '${CHAT_LISTEN} ${CHAT_NODE_1} ${CHAT_NODE_2}' < docs/nginx/chat-cluster.conf \
    | sed "s|^http {|http {\n    access_log $d/access.log; client_body_temp_path $d/client_body; proxy_temp_path $d/proxy;\n    fastcgi_temp_path $d/fastcgi; uwsgi_temp_path $d/uwsgi; scgi_temp_path $d/scgi;|" > $d/nginx.conf
  nginx -p $d/ -e $d/error.log -c $d/nginx.conf -g "daemon off; master_process on; pid $d/nginx.pid; error_log $d/error.log warn; user root;" &
  NGINX_PID=$!
  for i in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/$NGINX_PORT) 2>/dev/null && return 0; sleep 0.1; done
  echo "nginx did not start:" >&2; cat $d/error.log >&2; exit 1
}
stop_nginx() {
  [ -n "$NGINX_PID" ] || return 0
  kill -QUIT $NGINX_PID 2>/dev/null; wait $NGINX_PID 2>/dev/null; NGINX_PID=
}

# --- one bench run --------------------------------------------------------------------------------------------------
RESULTS=$T/results.tsv
bench() { # setup url scenario-args...
  local setup=$1 url=$2; shift 2
  local json=$T/run.json before= after line
  rm -f $json $T/before
  echo "=== $setup: $*"
  while IFS= read -r line; do
    echo "$line" | grep -vE '^\s*$'
    case "$line" in "fanout: "*|"max: "*) snapshot > $T/before;; esac
  done < <(dotnet run -c Release --no-build --project Chat.Bench -- "$@" --url $url --users $USERS --duration $DURATION --json $json 2>&1)
  after=$(snapshot)
  [ -f $T/before ] && [ -f $json ] || { echo "bench failed"; return; }
  read -r b1 b2 bp br bn bt bg < $T/before; read -r a1 a2 ap ar an at ag <<< "$after"
  local delivered rate p50 p99 lost dps
  delivered=$(jq '.results.step.Delivered // .results.step.delivered' $json)
  lost=$(jq '.results.step.Lost // .results.step.lost' $json)
  dps=$(jq '.results.step.DeliveredPerSecond // .results.step.delivered_per_second' $json)
  p50=$(jq '.results.step.Delivery.P50Ms // .results.step.delivery.p50_ms' $json)
  p99=$(jq '.results.step.Delivery.P99Ms // .results.step.delivery.p99_ms' $json)
  rate=$(jq -r '.results.rate // ("W=" + (.results.window|tostring))' $json)
  us() { awk -v t=$1 -v n=$delivered -v hz=$HZ 'BEGIN { printf "%.0f", (n > 0 ? t * 1e6 / hz / n : 0) }'; }
  local n1=$(us $((a1 - b1))) n2=$(us $((a2 - b2))) pg=$(us $((ap - bp))) rd=$(us $((ar - br))) ng=$(us $((an - bn)))
  local sum=$(( (a1 - b1) + (a2 - b2) + (ap - bp) + (ar - br) + (an - bn) ))
  local total=$(us $sum) cores=$(awk -v t=$sum -v ns=$((at - bt)) -v hz=$HZ 'BEGIN { printf "%.2f", t / hz / (ns / 1e9) }')
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' $setup $rate $dps $p50 $p99 $lost $n1 $n2 $pg $rd $ng $total $cores $((ag - bg)) | tee -a $RESULTS
}

fresh_db() {
  runuser -u postgres -- psql -h $T/pg -p $PG_PORT -q -c "DROP DATABASE IF EXISTS bench" -c "CREATE DATABASE bench" postgres
  redis-cli -p $REDIS_PORT flushall >/dev/null
}

run_setup() { # setup
  fresh_db
  local url
  case $1 in
    cluster)   start_node $NODE1_PORT yes $T/node1.log; start_node $NODE2_PORT yes $T/node2.log
               start_nginx 127.0.0.1:$NODE1_PORT 127.0.0.1:$NODE2_PORT; url=http://127.0.0.1:$NGINX_PORT ;;
    one)       start_node $NODE1_PORT no $T/node1.log; url=http://127.0.0.1:$NODE1_PORT ;;
    one-redis) start_node $NODE1_PORT yes $T/node1.log; url=http://127.0.0.1:$NODE1_PORT ;;
    one-nginx) start_node $NODE1_PORT no $T/node1.log
               start_nginx 127.0.0.1:$NODE1_PORT 127.0.0.1:$NODE1_PORT; url=http://127.0.0.1:$NGINX_PORT ;;
  esac
  # Fresh node processes: one throw-away run first (JIT, pools, the users' caches), listed as "<setup>-warmup".
  [ "$NODE_WARMUP" = 1 ] && bench $1-warmup $url fanout --rate 1000
  for r in $RATES; do bench $1 $url fanout --rate $r; done
  bench $1 $url max --window 16
  stop_nginx; stop_nodes
  # What the nodes and nginx said at Warning and above (errors, reconnects), kept in this run's output.
  for f in $T/node1.log $T/node2.log $T/nginx/error.log; do
    [ -f $f ] || continue
    if grep -qE 'warn|fail|crit|error|emerg' $f; then echo "--- $1: $(basename $f) (warnings and errors, first 20)"; grep -E 'warn|fail|crit|error|emerg' $f | head -20; fi
    rm -f $f
  done
}

echo "rates: $RATES; $USERS users, $DURATION s per run; setups: $SETUPS; rounds: $ROUNDS; load: $(cut -d' ' -f1-3 /proc/loadavg)"
for round in $(seq $ROUNDS); do for s in $SETUPS; do run_setup $s; done; done
echo
echo "server-side CPU in µs per delivered message (node1 node2 postgres redis nginx total), in cores over the measured"
echo "window (bench's measured phase + drain + socket close), and the nodes' gap fills from the database in that window:"
(printf 'setup\trate\tdeliv/s\tp50ms\tp99ms\tlost\tnode1\tnode2\tpg\tredis\tnginx\ttotal\tcores\tgapfills\n'; cat $RESULTS) | column -t
echo "load: $(cut -d' ' -f1-3 /proc/loadavg)"
