#!/usr/bin/env bash
# Kiln's host fault campaign; prints the figures for bench/host-faults/RESULTS.md. Run as root, under
# the host's VM lock (`flock /tmp/kiln-vm.lock bench/host-faults/run.sh`), with the default image built.
#   1. `kill -9` of `kiln run` at KILLS (50) random moments from 0 to 3 s after its start (before, during
#      and after the VM's provisioning and boot), each followed by the next start of Kiln and a census
#      of what the host and Kiln's state hold: no leftover may remain, and a VM running beside the
#      campaign (a neighbour, from the same state directory) must keep its VMM, tap, chain and answer pings.
#   2. STARTS (20) `kiln run`s at once: how many ran, waited for room first, or failed, and why.
# Everything runs in a network namespace and a state directory of its own, removed at the end.
set -euo pipefail
home=$(cd "$(dirname "$0")/../.." && pwd)
kills=${KILLS:-50}
starts=${STARTS:-20}
kiln=$home/bin/kiln
ns=kiln-faults-$$
net=10.205.0.0/24
state=$(mktemp -d /var/tmp/kiln-faults.XXXXXX)
work=$(mktemp -d /tmp/kiln-faults-work.XXXXXX)
neighbour=
cleanup() {
  [ -n "$neighbour" ] && kill -TERM "$neighbour" 2>/dev/null && wait "$neighbour" 2>/dev/null || true
  KILN_NO_REBUILD=1 "$kiln" run --state-dir "$state" --netns "$ns" --vm-network "$net" --disk 5000g -- true \
    >/dev/null 2>&1 || true  # the last start: removes what the last kill left
  ip netns del "$ns" 2>/dev/null || true
  rm -rf "$state" "$work" "/run/kiln/net/netns-$ns"
}
trap cleanup EXIT
ip netns add "$ns"
ip -n "$ns" link set lo up
ln -s /var/lib/kiln/images "$state/images"
flags=(--state-dir "$state" --netns "$ns" --vm-network "$net" --accel tcg)

"$kiln" run "${flags[@]}" -- true >/dev/null 2>&1  # builds the distribution when sources changed
export KILN_NO_REBUILD=1

# The neighbour: a VM that runs through the whole first part.
"$kiln" run "${flags[@]}" --timeout 60m -- sh -c 'echo started; while :; do sleep 1; done' \
  >"$work/neighbour.out" 2>"$work/neighbour.err" &
neighbour=$!
for _ in $(seq 300); do grep -q started "$work/neighbour.out" 2>/dev/null && break; sleep 0.5; done
grep -q started "$work/neighbour.out" || { echo "the neighbour VM did not start: $(cat "$work/neighbour.err")" >&2; exit 1; }
nvm=$(ls "$state/vms")
nslot=$(awk '/^SLOT /{print $2; exit}' "$state/vms/$nvm/journal")
naddr=10.205.0.$((nslot * 4 + 2))

# What Kiln holds beyond the neighbour, one line per leftover (empty: clean).
census() {
  ls -A "$state/vms" | grep -v -x "$nvm" | sed 's/^/vm dir /' || true
  ls -A "$state/staging" 2>/dev/null | sed 's/^/staging /' || true
  ls -A "/run/kiln/net/netns-$ns/slots" | while read -r s; do
    [ "$(cat "/run/kiln/net/netns-$ns/slots/$s")" = "$nvm" ] || echo "slot $s"; done
  ls -A /run/kiln/ledger | grep -v -x -e .lock -e "$nvm" | sed 's/^/ledger /' || true
  ip -n "$ns" -o link show | awk -F': ' '/kilntap/ {print $2}' | grep -v -x "kilntap$nslot" | sed 's/^/tap /' || true
  ip netns exec "$ns" nft list table inet kiln | grep -o -E 'chain vm[0-9]+' | grep -v -x "chain vm$nslot" \
    | sed 's/^/nft /' || true
  for d in /sys/fs/cgroup/cpu/kiln /sys/fs/cgroup/memory/kiln /sys/fs/cgroup/kiln; do
    [ -d "$d" ] && ls "$d" | grep '^vm-' | grep -v -x "$nvm" | sed "s|^|cgroup $d/|"; done || true
  pgrep -f "qemu-system.*$state/" -a | grep -v "kiln-$nvm " | sed 's/^/vmm /' || true
  pgrep -f "kiln-watchdog .*$state/" -a | grep -v "/vms/$nvm/" | cut -c1-60 | sed 's/^/watchdog /' || true
}
neighbour_ok() {
  kill -0 "$neighbour" 2>/dev/null && pgrep -f "kiln-$nvm " >/dev/null \
    && ip netns exec "$ns" busybox ping -c 1 -W 3 "$naddr" >/dev/null 2>&1
}

echo "kill -9 campaign: $kills kills, neighbour VM $nvm at $naddr" >&2
leftovers_total=0 harm=0 in_vm=0 before_vm=0 finished=0
: >"$work/kills.tsv"
for i in $(seq "$kills"); do
  delay_ms=$((RANDOM % 3001))
  "$kiln" run "${flags[@]}" -v -- sh -c 'echo hi; sleep 2' >"$work/k.out" 2>"$work/k.err" &
  victim=$!
  sleep "$(awk -v ms="$delay_ms" 'BEGIN { printf "%.3f", ms / 1000 }')"
  if kill -0 "$victim" 2>/dev/null; then
    kill -9 "$victim"; wait "$victim" 2>/dev/null || true
    if grep -q "ready to make VM" "$work/k.err"; then phase=vm; in_vm=$((in_vm + 1)); else phase=jvm; before_vm=$((before_vm + 1)); fi
  else
    wait "$victim" 2>/dev/null || true; phase=finished; finished=$((finished + 1))
  fi
  # The next start of Kiln: it removes the leftovers of dead owners first, then (asked for more disk than
  # there is) is refused without booting.
  "$kiln" run "${flags[@]}" --disk 5000g -- true >/dev/null 2>"$work/next.err" || true
  left=$(census)
  n=$(printf '%s' "$left" | grep -c . || true)
  leftovers_total=$((leftovers_total + n))
  ok=yes; neighbour_ok || { ok=no; harm=$((harm + 1)); }
  printf '%d\t%d\t%s\t%d\t%s\n' "$i" "$delay_ms" "$phase" "$n" "$ok" >>"$work/kills.tsv"
  [ "$n" -eq 0 ] || printf 'kill %d (%d ms): %s\n' "$i" "$delay_ms" "$left" >&2
done
# What the kills left to the orphans' watchdogs: a VM killed while booting lives until its deadline
# unless the next start removed it (it does: the census above counts VMMs).
echo "kills: $kills; killed before the VM was begun: $before_vm, while it was being made or ran: $in_vm," \
  "finished before the kill: $finished; leftovers after the next start: $leftovers_total; neighbour harmed: $harm"
# SIGTERM, not SIGINT: a script's background jobs start with SIGINT ignored, and so does their JVM.
# Kiln stops its VM on either (its shutdown hook); the JVM exits 143 on SIGTERM.
kill -TERM "$neighbour"; set +e; wait "$neighbour"; ncode=$?; set -e; neighbour=
echo "neighbour: exit $ncode after SIGTERM (143 expected); lines printed: $(wc -l <"$work/neighbour.out")"
"$kiln" run "${flags[@]}" -- true >/dev/null 2>&1
echo "census after a normal run at the end: $(census | wc -l) leftover(s)"

# Part 2: many starts at once.
echo "$starts starts at once..." >&2
t0=$(date +%s%N)
for i in $(seq "$starts"); do
  ( s=$(date +%s%N); "$kiln" run "${flags[@]}" --memory 512m -- echo "run $i" >"$work/s$i.out" 2>"$work/s$i.err"
    echo "$? $(( ($(date +%s%N) - s) / 1000000 ))" >"$work/s$i.code" ) &
done
wait
ran=0 waited=0 failed=0
for i in $(seq "$starts"); do
  read -r code ms <"$work/s$i.code"
  grep -q "waiting for room" "$work/s$i.err" && waited=$((waited + 1))
  if [ "$code" -eq 0 ] && grep -q -x "run $i" "$work/s$i.out"; then ran=$((ran + 1))
  else failed=$((failed + 1)); echo "start $i failed ($code): $(grep '^kiln:' "$work/s$i.err" | tail -1)"; fi
  echo "$ms" >>"$work/ms"
done
echo "starts at once: $starts; ran to the end: $ran (of which waited for room first: $waited); failed: $failed;" \
  "wall time $(( ($(date +%s%N) - t0) / 1000000 )) ms; per run min/median/max ms:" \
  "$(sort -n "$work/ms" | awk '{a[NR]=$1} END {print a[1] "/" a[int((NR+1)/2)] "/" a[NR]}')"
echo "census after the starts: $(census | wc -l) leftover(s)"
[ -z "${KILLS_TSV:-}" ] || cp "$work/kills.tsv" "$KILLS_TSV"  # kill, delay ms, phase, leftovers, neighbour ok
