#!/usr/bin/env bash
# The server's edge under a credential-less attack, on loopback: a real `kiln server` (SQLite, a GitHub App
# whose GitHub is unreachable, so only the webhook route matters) in its own JVM, launched as bin/kiln launches
# it; 1,000 slow connections and 100 slow 5 MB webhook bodies for 60 s (bench/edge/attack.py); the server's
# RSS before, during (highest, sampled each second) and after, and the latency of normal requests (GET
# /api/v1/health and GET /api/v1/jobs with the admin token, alternately, a new connection each, every 50 ms)
# before the attack (the baseline of the same run), during it and after. Writes RESULTS.md here.
# Run it holding the host lock: flock /tmp/kiln-vm.lock bench/edge/run.sh
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cd "$root"
. bin/java-env.sh
kiln_pick_jdk
# Two campaigns: the server as bin/kiln starts it, and with the collector bin/kiln used for every command
# before (serial, whose heap only grows), which shows what the server's own flags are worth.
if [ -z "${KILN_EDGE_PART:-}" ]; then
  parts=()
  for opts in "" "-XX:+UseSerialGC"; do
    part="$(mktemp)"
    parts+=("$part")
    KILN_EDGE_PART=$part SERVER_JAVA_OPTS=$opts bash "$0"
  done
  { echo "# Edge campaign results"; echo; for part in "${parts[@]}"; do cat "$part"; echo; done; cat "$here/NOTES.md"; } \
    > "$here/RESULTS.md"
  rm -f "${parts[@]}"
  cat "$here/RESULTS.md"
  exit 0
fi
ATTACK_SECONDS=${ATTACK_SECONDS:-60}
BASELINE_SECONDS=${BASELINE_SECONDS:-15}
changes="$(git diff --quiet HEAD -- . && echo "" || echo " (working tree with changes)")"
# bin/kiln builds the distribution if the sources changed, then execs the JVM: its pid is the server's.
bin/kiln --version >/dev/null
work="$(mktemp -d /tmp/kiln-edge-bench.XXXXXX)"
server_pid=
cleanup() {
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill "$server_pid"
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$work/app.pem" 2>/dev/null
printf 'edge-bench-webhook-secret\n' > "$work/webhook-secret"
cat > "$work/github.properties" <<PROPS
app-id=1
private-key-file=$work/app.pem
webhook-secret-file=$work/webhook-secret
url=http://127.0.0.1:9
api-url=http://127.0.0.1:9
PROPS
token="edge-bench-admin-token-$RANDOM$RANDOM"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
# SERVER_JAVA_OPTS: more JVM flags for the server (KILN_JAVA_OPTS of bin/kiln), none by default.
KILN_ADMIN_TOKEN=$token KILN_JAVA_OPTS=${SERVER_JAVA_OPTS:-} bin/kiln server \
  --data-dir "$work/server" --images-dir "$work/images" --listen "127.0.0.1:$port" \
  --github-config "$work/github.properties" >"$work/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 300); do
  curl -fs "http://127.0.0.1:$port/api/v1/health" >/dev/null 2>&1 && break
  sleep 0.1
done
curl -fs "http://127.0.0.1:$port/api/v1/health" >/dev/null || { cat "$work/server.log" >&2; exit 1; }
jvm_flags="$(tr '\0' '\n' < "/proc/$server_pid/cmdline" | grep -E '^-XX:(\+Use.*GC|SoftMax|Max)|^-Xm' | paste -sd' ')"
rss() { awk '/^VmRSS/ { printf "%.1f", $2 / 1024 }' "/proc/$server_pid/status"; }
load_start="$(cut -d' ' -f1-3 /proc/loadavg)"
started=$(date +%s)

python3 "$here/attack.py" probe "$port" "$BASELINE_SECONDS" "$token" > "$work/before.txt"
rss_before=$(rss)
python3 "$here/attack.py" attack "$port" "$ATTACK_SECONDS" > "$work/attack.txt" &
attack_pid=$!
sleep 2 # the attack's connections open first
python3 "$here/attack.py" probe "$port" "$((ATTACK_SECONDS - 4))" "$token" > "$work/during.txt" &
probe_pid=$!
# Sampled each second from the attack's start until the last probe ends (the heap may grow after the peak).
( while kill -0 "$server_pid" 2>/dev/null; do rss; echo; sleep 1; done ) > "$work/rss.txt" &
sampler_pid=$!
wait "$attack_pid"
wait "$probe_pid"
rss_end_of_attack=$(rss)
sleep 5
python3 "$here/attack.py" probe "$port" 10 "$token" > "$work/after.txt"
rss_after=$(rss)
kill "$sampler_pid" 2>/dev/null || true
rss_max=$(sort -n "$work/rss.txt" | tail -n 1)
threads=$(awk '/^Threads/ { print $2 }' "/proc/$server_pid/status")

stats() {
  python3 - "$1" <<'PY'
import sys
values, fails = [], []
for line in open(sys.argv[1]):
    line = line.strip()
    (fails.append(line) if line.startswith("fail") else values.append(float(line)))
values.sort()
def pct(p):
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]
print(f"{len(values)} | {len(fails)} | {pct(50):.1f} | {pct(99):.1f} | {values[-1]:.1f}")
PY
}
p99() { python3 -c "
import sys
v=sorted(float(l) for l in open('$1') if not l.startswith('fail'))
print(v[min(len(v)-1, int(round(0.99*(len(v)-1))))])"; }
ratio=$(python3 -c "print(f'{$(p99 "$work/during.txt") / $(p99 "$work/before.txt"):.2f}')")
growth=$(python3 -c "print(f'{$rss_max - $rss_before:.1f}')")
{
  if [ -n "${SERVER_JAVA_OPTS:-}" ]; then echo "## Server with KILN_JAVA_OPTS=$SERVER_JAVA_OPTS"; else echo "## Server as bin/kiln starts it"; fi
  echo
  echo "Run by \`bench/edge/run.sh\` on $(date -u +%Y-%m-%d) on top of commit $(git rev-parse --short HEAD)$changes with"
  echo "$("$JAVA_HOME/bin/java" -version 2>&1 | head -n 1), in $(( $(date +%s) - started )) s. Machine: $(nproc) cores shared with"
  echo "other work; load average (1, 5, 15 min) $load_start at the start and $(cut -d' ' -f1-3 /proc/loadavg) at the end."
  echo "The server runs alone in its JVM, started by \`bin/kiln server\` (its memory flags: $jvm_flags);"
  echo "attacker and probe are Python processes on the same cores."
  echo
  echo "Attack ($ATTACK_SECONDS s): 1,000 slow-header connections (a byte a second) and 100 slow 5 MB webhook bodies"
  echo "(8 KiB every 100 ms, wrong signature), each opened again when the server cuts it:"
  echo
  echo '```'
  cat "$work/attack.txt"
  echo '```'
  echo
  echo "| server RSS (MB) | before | end of the attack | after (15 s later) | highest, attack to end | growth |"
  echo "| --- | --- | --- | --- | --- | --- |"
  echo "| | $rss_before | $rss_end_of_attack | $rss_after | $rss_max | $growth (target < 100) |"
  echo
  echo "| normal requests | answered | failed | p50 ms | p99 ms | max ms |"
  echo "| --- | --- | --- | --- | --- | --- |"
  echo "| before (baseline, ${BASELINE_SECONDS} s) | $(stats "$work/before.txt") |"
  echo "| during the attack | $(stats "$work/during.txt") |"
  echo "| after (10 s) | $(stats "$work/after.txt") |"
  echo
  echo "p99 during / p99 before: $ratio (target: p99 during < 100 ms). Server threads at the end: $threads."
  echo "Warnings in the server's log: $(grep -c ' WARN ' "$work/server.log" || true)."
} > "$KILN_EDGE_PART"
