package main

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/prismsfu/prism/signaling/client"
)

func TestFlagsAndEnvironment(t *testing.T) {
	t.Setenv("PRISM_LOG_LEVEL", "debug")
	t.Setenv("PRISM_PUBLIC_IP", "203.0.113.7")
	o, err := parseFlags([]string{"-addr", "127.0.0.1:9000"}, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if o.udpPort != 9000 || o.logLevel != "debug" || o.publicIP != "203.0.113.7" {
		t.Fatalf("options %+v: want udp port from -addr and values from the environment", o)
	}
	var help bytes.Buffer
	_, _ = parseFlags([]string{"-h"}, &help)
	for _, f := range []string{"-addr", "-udp-port", "-public-ip", "-log-level", "-log-format", "PRISM_"} {
		if !strings.Contains(help.String(), f) {
			t.Errorf("-h does not mention %s", f)
		}
	}
	t.Setenv("PRISM_UDP_PORT", "not-a-port")
	if _, err := parseFlags(nil, &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), "PRISM_UDP_PORT") {
		t.Fatalf("bad environment value: error %v, want one naming PRISM_UDP_PORT", err)
	}
	if _, err := newLogger("info", "xml"); err == nil {
		t.Error("unknown log format accepted")
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// The server serves the client page and the WebSocket; on shutdown it
// tells its clients, closes everything and leaves no goroutine behind.
func TestServeAndShutdown(t *testing.T) {
	defer goleak.VerifyNone(t)
	port := freePort(t)
	addr := "127.0.0.1:" + strconv.Itoa(port)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"-addr", addr, "-log-level", "warn"}, &bytes.Buffer{}) }()

	var resp *http.Response
	var err error
	for i := 0; i < 100; i++ {
		if resp, err = http.Get("http://" + addr + "/"); err == nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("server never answered: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("GET / = %d %s, want the client page", resp.StatusCode, resp.Header.Get("Content-Type"))
	}

	api, err := client.NewAPI(client.APIOptions{LoopbackOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	jctx, jcancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer jcancel()
	c, err := client.Join(jctx, client.Config{URL: "ws://" + addr + "/ws", Room: "r", Name: "n", API: api})
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run returned %v, want nil after a signal", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("server did not stop within 10s")
	}
	select {
	case <-c.Done():
	case <-time.After(2 * time.Second):
		t.Fatal("client was not told the server stopped")
	}
	_ = c.Close()
	http.DefaultClient.CloseIdleConnections()
}
