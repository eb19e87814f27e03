# Prism's tasks. `make run` starts the server; `make test` runs every test,
# the browser end-to-end tests included.
#
# make test needs Debian's chromium and firefox-esr for the browser tests,
# and Debian's python3-aiortc (with python3-websockets) for the aiortc
# interoperability test. Under CI=true it installs them with apt-get when missing; elsewhere
# those tests skip with a loud message if they are missing. As root, the
# tests run in a network namespace that has only loopback, so nothing they
# start can reach another host (and Chromium's attempts to reach Google
# fail at once).

GO       ?= go
PKGS     ?= ./...
# -p 1: packages run one at a time; the media tests measure loss and
# timing on 2 cores, and the browser tests need the CPU to themselves.
TESTFLAGS ?= -race -count=1 -p 1 -timeout 15m

.PHONY: run build test test-deps bench bench-load lint fuzz clean

run:
	$(GO) run ./cmd/prism

build:
	$(GO) build -o bin/prism ./cmd/prism
	$(GO) build -o bin/loadtest ./cmd/loadtest

# test-deps fetches Go modules (the namespace below has no network) and,
# under CI, installs what the interoperability tests need with apt-get
# when it is missing: Chromium and Firefox ESR (the two browser engines),
# and aiortc (python3-aiortc for the system /usr/bin/python3, and
# python3-websockets for its signaling client).
test-deps:
	$(GO) mod download
	@missing=""; \
	[ -x /usr/bin/chromium ] || missing="$$missing chromium"; \
	[ -x /usr/bin/firefox-esr ] || missing="$$missing firefox-esr"; \
	if [ -n "$$missing" ] && [ "$$CI" = "true" ]; then \
		echo "make test: installing$$missing for the browser tests (apt-get install$$missing)"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi
	@if [ "$$CI" = "true" ] && ! /usr/bin/python3 -c 'import aiortc, websockets' 2>/dev/null; then \
		echo "make test: installing aiortc for the interoperability test (apt-get install python3-aiortc python3-websockets)"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-aiortc python3-websockets >/dev/null; \
	fi

test: test-deps
	$(GO) vet $(PKGS)
	@if [ "$$(id -u)" = "0" ] && command -v unshare >/dev/null && command -v ip >/dev/null; then \
		echo "make test: running in a loopback-only network namespace"; \
		unshare -n sh -c 'ip link set lo up && GOPROXY=off $(GO) test $(TESTFLAGS) $(PKGS)'; \
	else \
		$(GO) test $(TESTFLAGS) $(PKGS); \
	fi

bench:
	$(GO) test -run '^$$' -bench . -benchmem -count 5 ./rtp ./sfu

bench-load:
	sh cmd/loadtest/bench-load.sh

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)

fuzz:
	$(GO) test -run '^$$' -fuzz FuzzDecode -fuzztime 30s ./signaling/protocol
	$(GO) test -run '^$$' -fuzz FuzzParse -fuzztime 30s ./rtp
	$(GO) test -run '^$$' -fuzz FuzzIsKeyframe -fuzztime 30s ./rtp

clean:
	rm -rf bin
