// Package e2e holds Prism's end-to-end tests: real Chromium pages running
// the browser client of examples/web, and Go clients of signaling/client,
// against a Prism server started in the test process.
//
// The browser tests need Chromium at /usr/bin/chromium (or the path in
// PRISM_CHROMIUM). Without it they skip, unless CI=true, where they fail.
// Run them in a network namespace that has only loopback, so that nothing
// can leave the machine:
//
//	go test -c -race -o /tmp/e2e.test ./e2e
//	unshare -n sh -c 'ip link set lo up; /tmp/e2e.test -test.v'
//
// Screenshots go to the directory in PRISM_ARTIFACTS (default: the test's
// temporary directory); PRISM_UPDATE_SCREENSHOT=1 also refreshes
// examples/web/screenshot.png. PRISM_E2E_CONSOLE=1 prints every page's
// console, which is otherwise printed only for failed tests.
package e2e
