// Command loadtest is Prism's load-test bot: it joins a Prism SFU with
// synthetic VP8/Opus publishers and many subscribers, and reports join
// time, latency, loss, NACKs, PLIs, bitrate and the server's CPU and memory.
// Run it with -h for the flags; -matrix runs the benchmark matrix.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"

	"github.com/pion/interceptor"
)

// Exit codes.
const (
	exitOK    = 0
	exitFail  = 1 // a threshold was exceeded or a track never arrived
	exitSetup = 2 // bad flags, or the run could not start
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		// The first Ctrl-C ends the run and prints the report; after it
		// the signals kill as usual, so a second one does not wait for
		// hundreds of clients to leave.
		<-ctx.Done()
		stop()
	}()
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run is the whole program: tests call it in-process. Cancelling ctx ends
// the run early; the report so far is still printed and written.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return runWith(ctx, args, stdout, stderr, nil)
}

// runWith is run with extra interceptors in the bot's pion chain, after the
// NACK/PLI counter and before pion's defaults (tests inject loss this way).
func runWith(ctx context.Context, args []string, stdout, stderr io.Writer, extra func(*interceptor.Registry) error) int {
	cfg, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	if err != nil {
		fmt.Fprintf(stderr, "loadtest: %v\n", err)
		return exitSetup
	}
	if cfg.CPUProfile != "" {
		f, err := os.Create(cfg.CPUProfile)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintf(stderr, "loadtest: -cpuprofile: %v\n", err)
			return exitSetup
		}
		defer func() {
			pprof.StopCPUProfile()
			f.Close()
		}()
	}
	if cfg.Matrix {
		return runMatrix(ctx, cfg, stdout, stderr)
	}
	rep, leave, err := runLoad(ctx, cfg, stderr, extra)
	if err != nil {
		fmt.Fprintf(stderr, "loadtest: %v\n", err)
		return exitSetup
	}
	code := finish(cfg, rep, stdout, stderr)
	leave()
	return code
}

// finish prints and writes the report and returns the exit code.
func finish(cfg *config, rep *Report, stdout, stderr io.Writer) int {
	writeTable(stdout, rep)
	code := exitOK
	if !rep.Pass {
		code = exitFail
	}
	if cfg.JSONFile != "" {
		if err := writeJSON(cfg.JSONFile, rep); err != nil {
			fmt.Fprintf(stderr, "loadtest: -json: %v\n", err)
			code = exitSetup
		}
	}
	if cfg.HTMLFile != "" {
		if err := writeHTML(cfg.HTMLFile, rep); err != nil {
			fmt.Fprintf(stderr, "loadtest: -html: %v\n", err)
			code = exitSetup
		}
	}
	return code
}
