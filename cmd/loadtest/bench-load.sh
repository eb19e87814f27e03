#!/bin/sh
# bench-load.sh runs Prism's load matrix (the target of `make bench-load`):
# it builds the server and the load-test bot, then the bot starts a fresh
# server on 127.0.0.1 for every scenario, measures it, and rewrites the
# section between <!-- load-matrix:begin --> and <!-- load-matrix:end --> of
# BENCHMARKS.md (if the file exists). Extra arguments go to the bot, e.g.
#   sh cmd/loadtest/bench-load.sh -matrix-scenarios fanout-50,capacity -matrix-duration 10s
# All traffic stays on the loopback interface.
set -eu
cd "$(dirname "$0")/../.."

addr=${PRISM_BENCH_ADDR:-127.0.0.1:8800}
bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT INT TERM

go build -o "$bin/prism" ./cmd/prism
go build -o "$bin/loadtest" ./cmd/loadtest

# PRISM_BENCH_OUT=FILE also writes the table to FILE.
"$bin/loadtest" -matrix \
	-url "ws://$addr/ws" \
	-server-cmd "$bin/prism -addr $addr -log-level warn" \
	-bench-file BENCHMARKS.md \
	${PRISM_BENCH_OUT:+-matrix-out "$PRISM_BENCH_OUT"} \
	"$@"
