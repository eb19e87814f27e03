// Command prism runs the Prism SFU: the WebSocket signaling endpoint and
// the browser client over HTTP, and all media on one UDP port.
//
// Every flag can also be set as an environment variable PRISM_<NAME>, with
// the flag's name upper-cased and dashes as underscores (PRISM_UDP_PORT).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/prismsfu/prism/examples/web"
	"github.com/prismsfu/prism/sfu"
	"github.com/prismsfu/prism/signaling"
)

// defaultGCPercent is the garbage collector's target unless GOGC says
// otherwise. A server's live heap is mostly per-connection state, and Go's
// default of 100 lets the heap grow to twice it between collections: at 50
// a subscriber costs about 0.30 MB of RSS instead of 0.34 (BENCHMARKS.md).
const defaultGCPercent = 50

func main() {
	if _, set := os.LookupEnv("GOGC"); !set {
		debug.SetGCPercent(defaultGCPercent)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return
		}
		fmt.Fprintln(os.Stderr, "prism:", err)
		os.Exit(1)
	}
}

// options are the server's settings.
type options struct {
	addr      string
	udpPort   int
	publicIP  string
	logLevel  string
	logFormat string
	pprof     string
	workers   int
	sendBatch int
}

// parseFlags reads flags, with PRISM_* environment variables as defaults.
func parseFlags(args []string, out io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("prism", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.StringVar(&o.addr, "addr", ":8800", "HTTP and WebSocket listen address")
	fs.IntVar(&o.udpPort, "udp-port", 0, "UDP port for all media (default: the port of -addr)")
	fs.StringVar(&o.publicIP, "public-ip", "", "IP address to advertise in ICE candidates, for a server behind 1:1 NAT")
	fs.StringVar(&o.logLevel, "log-level", "info", "log level: debug, info, warn or error")
	fs.StringVar(&o.logFormat, "log-format", "console", "log format: console or json")
	fs.StringVar(&o.pprof, "pprof", "", "serve Go's pprof profiles on this address (e.g. 127.0.0.1:6060); off when empty")
	fs.IntVar(&o.workers, "workers", 0, "fan-out workers (default: one per core, GOMAXPROCS)")
	fs.IntVar(&o.sendBatch, "send-batch", 0, "datagrams per sendmmsg system call; 1 sends each on its own (default 32)")
	fs.Usage = func() {
		fmt.Fprintf(out, "Usage: prism [flags]\n\nRuns the Prism SFU. Each flag may also be set as PRISM_<NAME> (e.g. PRISM_UDP_PORT).\n\n")
		fs.PrintDefaults()
	}
	var envErr error
	fs.VisitAll(func(f *flag.Flag) {
		name := "PRISM_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v, ok := os.LookupEnv(name); ok {
			if err := f.Value.Set(v); err != nil && envErr == nil {
				envErr = fmt.Errorf("%s=%q: %w", name, v, err)
			}
		}
	})
	if envErr != nil {
		return o, envErr
	}
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if o.workers < 0 || o.sendBatch < 0 {
		return o, fmt.Errorf("-workers %d, -send-batch %d: must not be negative", o.workers, o.sendBatch)
	}
	if o.udpPort == 0 {
		_, port, err := net.SplitHostPort(o.addr)
		if err != nil {
			return o, fmt.Errorf("-addr %q: %w", o.addr, err)
		}
		if o.udpPort, err = strconv.Atoi(port); err != nil {
			return o, fmt.Errorf("-addr %q: port: %w", o.addr, err)
		}
	}
	return o, nil
}

func newLogger(level, format string) (*zap.Logger, error) {
	var lvl zapcore.Level
	if err := lvl.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("-log-level: %w", err)
	}
	var cfg zap.Config
	switch format {
	case "json":
		cfg = zap.NewProductionConfig()
	case "console":
		cfg = zap.NewDevelopmentConfig()
		cfg.DisableStacktrace = true
	default:
		return nil, fmt.Errorf("-log-format %q: want console or json", format)
	}
	cfg.Level = zap.NewAtomicLevelAt(lvl)
	return cfg.Build()
}

// run starts the server and serves until ctx is done, then shuts down:
// clients are told, peer connections close, goroutines end.
func run(ctx context.Context, args []string, out io.Writer) error {
	o, err := parseFlags(args, out)
	if err != nil {
		return err
	}
	log, err := newLogger(o.logLevel, o.logFormat)
	if err != nil {
		return err
	}
	defer func() { _ = log.Sync() }()

	udp, err := net.ListenUDP("udp", &net.UDPAddr{Port: o.udpPort})
	if err != nil {
		return fmt.Errorf("media port: %w", err)
	}
	// Loss on a busy server starts in the kernel's socket buffers; ask for
	// more than the default (capped by net.core.rmem_max / wmem_max).
	_ = udp.SetReadBuffer(8 << 20)
	_ = udp.SetWriteBuffer(8 << 20)
	var public []string
	if o.publicIP != "" {
		public = []string{o.publicIP}
	}
	s, err := sfu.New(sfu.Config{UDPConn: udp, PublicIPs: public, Logger: log, Workers: o.workers, SendBatch: o.sendBatch})
	if err != nil {
		_ = udp.Close()
		return err
	}
	sig := signaling.NewServer(signaling.Config{SFU: s, Logger: log})
	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		_ = s.Close()
		return fmt.Errorf("listen %s: %w", o.addr, err)
	}
	hs := &http.Server{Handler: signaling.NewMux(sig, web.Handler()), ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()
	if o.pprof != "" {
		stopProfiles, err := serveProfiles(o.pprof, log)
		if err != nil {
			_ = hs.Close()
			_ = s.Close()
			return err
		}
		defer stopProfiles()
	}

	log.Info("prism is running",
		zap.String("open", "http://"+displayAddr(ln.Addr())+"/"),
		zap.String("websocket", "/ws"), zap.Int("udp_port", o.udpPort))
	log.Warn("no authentication: anyone who can reach this server may join any room")

	select {
	case <-ctx.Done():
	case err = <-served:
	}
	log.Info("shutting down")
	_ = sig.Close()
	shutCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = hs.Shutdown(shutCtx)
	_ = s.Close()
	log.Info("stopped")
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// displayAddr turns a listen address into one a person can open.
func displayAddr(a net.Addr) string {
	tcp, ok := a.(*net.TCPAddr)
	if !ok || tcp.IP.IsUnspecified() {
		port := 0
		if ok {
			port = tcp.Port
		}
		return net.JoinHostPort("localhost", strconv.Itoa(port))
	}
	return tcp.String()
}

// serveProfiles serves net/http/pprof on addr, apart from the public
// listener, and returns a function that stops it.
func serveProfiles(addr string, log *zap.Logger) (func(), error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("-pprof %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(ln)
	}()
	log.Info("profiles", zap.String("pprof", "http://"+ln.Addr().String()+"/debug/pprof/"))
	return func() {
		_ = srv.Close()
		<-done
	}, nil
}
