#!/bin/sh
# A real Prometheus server scrapes a program's /metrics (the ward endpoint)
# every second; its query API must then return ward_live_bytes for the
# heap, growing; and the alert rule docs/http.md gives passes promtool.
#
#   sh tests/http/prometheus.sh BUILD_DIR SOURCE_DIR
set -u
build=$(cd "$1" && pwd)
src=$(cd "$2" && pwd)
for t in prometheus promtool curl python3; do
	command -v $t >/dev/null 2>&1 || {
		echo "prometheus: $t is missing: sudo apt-get install -y prometheus curl python3"
		exit 1
	}
done
work=$(mktemp -d)
trap 'kill $app $prom 2>/dev/null; wait 2>/dev/null; rm -rf "$work"' EXIT
free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
fail=0
bad() { echo "FAIL $*"; fail=1; }

"$build/growing_cache" 0 30 >"$work/app.out" 2>&1 &
app=$!
for i in $(seq 1 50); do grep -q 'serving on port' "$work/app.out" && break; sleep 0.1; done
port=$(sed -n 's/.*serving on port \([0-9]*\).*/\1/p' "$work/app.out")
[ -n "$port" ] || { echo "FAIL the program did not start: $(cat "$work/app.out")"; exit 1; }

pport=$(free_port)
cat >"$work/prometheus.yml" <<YML
global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files: [ "$src/docs/ward-alerts.yml" ]
scrape_configs:
  - job_name: ward
    static_configs:
      - targets: [ "127.0.0.1:$port" ]
YML
promtool check config "$work/prometheus.yml" >"$work/check.out" 2>&1 ||
	bad "promtool check config: $(cat "$work/check.out")"
promtool check rules "$src/docs/ward-alerts.yml" >"$work/rules.out" 2>&1 ||
	bad "the alert rule in docs/ward-alerts.yml: $(cat "$work/rules.out")"
prometheus --config.file="$work/prometheus.yml" --storage.tsdb.path="$work/data" \
	--web.listen-address="127.0.0.1:$pport" >"$work/prom.log" 2>&1 &
prom=$!

# Scrapes every second: within 15 s the series is there, and growing.
q() { curl -s "http://127.0.0.1:$pport/api/v1/query" --data-urlencode "query=$1"; }
got=""
for i in $(seq 1 30); do
	got=$(q 'ward_live_bytes{kind="heap",job="ward"}')
	case $got in *'"kind":"heap"'*'"value":['*) break ;; esac
	sleep 0.5
done
case $got in
*'"kind":"heap"'*) echo "ok   Prometheus scrapes ward_live_bytes{kind=\"heap\"}" ;;
*) bad "Prometheus scrapes ward_live_bytes: $got $(tail -5 "$work/prom.log")" ;;
esac
sleep 4
rate=$(q 'deriv(ward_live_bytes{kind="heap"}[10s]) > 0')
case $rate in
*'"kind":"heap"'*) echo "ok   the growing heap shows as a positive deriv()" ;;
*) bad "the growing heap shows as a positive deriv(): $rate" ;;
esac
exit $fail
