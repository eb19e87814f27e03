package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/webrtc/v4"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// Phases of a run, as the progress line and the plots show them.
const (
	phasePublishers = "publishers"
	phaseJoining    = "joining"
	phaseSettling   = "settling"
	phaseSteady     = "steady"
	phaseDone       = "done"
)

// How long after the steady window closes the report waits for packets
// already in flight (and their retransmissions) before it counts.
const drainGrace = 300 * time.Millisecond

// maxConcurrentJoins bounds the joins in flight, so that -ramp 0 does not
// start hundreds of ICE gatherings at the same instant.
const maxConcurrentJoins = 64

// loadRun is one load test in progress.
type loadRun struct {
	cfg    *config
	st     *stats
	log    *zap.Logger
	stderr io.Writer
	server *serverSampler
	// extraInterceptors lets tests add to the bot's interceptor chain.
	extraInterceptors func(*interceptor.Registry) error

	phase     atomic.Value // string
	progressW io.Writer
	isTTY     bool
}

// runLoad performs one load test and returns its report and a function
// that makes the clients leave, to call once the report is out. The error
// is for setup failures only; a run that was interrupted still returns a
// report.
func runLoad(ctx context.Context, cfg *config, stderr io.Writer, extra func(*interceptor.Registry) error) (*Report, func(), error) {
	lr := &loadRun{
		cfg:               cfg,
		st:                newStats(),
		stderr:            stderr,
		extraInterceptors: extra,
		progressW:         stderr,
	}
	if f, ok := stderr.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			lr.isTTY = true
		}
	}
	lr.phase.Store(phasePublishers)
	lr.log = newLogger(cfg.LogLevel, stderr)
	if cfg.ServerPID > 0 {
		lr.server = &serverSampler{pid: cfg.ServerPID}
		if !lr.server.sample().ok {
			return nil, nil, fmt.Errorf("-server-pid %d: cannot read /proc/%d", cfg.ServerPID, cfg.ServerPID)
		}
	}
	return lr.run(ctx)
}

func newLogger(level string, w io.Writer) *zap.Logger {
	var lvl zapcore.Level
	if err := lvl.UnmarshalText([]byte(level)); err != nil {
		lvl = zapcore.ErrorLevel
	}
	enc := zap.NewDevelopmentEncoderConfig()
	core := zapcore.NewCore(zapcore.NewConsoleEncoder(enc), zapcore.AddSync(w), lvl)
	return zap.New(core)
}

func (lr *loadRun) run(ctx context.Context) (*Report, func(), error) {
	cfg, st := lr.cfg, lr.st
	rcvbuf0, rcvbufOK := udpRcvbufErrors()
	cliDrops0, cliDropsOK := udpSocketDrops(os.Getpid())
	var srvDrops0 uint64
	srvDropsOK := false
	if lr.server != nil {
		srvDrops0, srvDropsOK = udpSocketDrops(lr.server.pid)
	}

	api, err := newBotAPI(cfg, st, lr.extraInterceptors)
	if err != nil {
		return nil, nil, fmt.Errorf("webrtc API: %w", err)
	}

	// Participants: publishers first (in conference mode they subscribe
	// too), then the subscribe-only ones, spread round-robin over rooms.
	var pubs, subs []*participant
	for i := range cfg.Publishers {
		p := &participant{idx: i, name: fmt.Sprintf("%s-pub-%d", cfg.Name, i+1), room: i % cfg.Rooms,
			publishes: true, subscribes: cfg.Conference, st: st}
		pubs = append(pubs, p)
	}
	for i := range cfg.Subscribers {
		p := &participant{idx: cfg.Publishers + i, name: fmt.Sprintf("%s-sub-%d", cfg.Name, i+1), room: i % cfg.Rooms,
			subscribes: true, st: st}
		subs = append(subs, p)
	}

	progressCtx, stopProgress := context.WithCancel(context.Background())
	progressDone := make(chan struct{})
	go func() {
		defer close(progressDone)
		lr.progressLoop(progressCtx)
	}()

	var (
		steady   *window
		winEnd   time.Time
		cpu0     time.Duration
		srv0     serverSample
		srv1     serverSample
		cpu1     time.Duration
		finished bool
	)
	func() {
		// Publishers. In a fan-out test they join at once and the
		// subscribers wait for their tracks; in conference mode everyone
		// is a publisher and joins at the ramp rate.
		pubRamp := 0.0
		if cfg.Conference {
			pubRamp = cfg.Ramp
		}
		// A publisher's join returns once its media flows.
		lr.joinAll(ctx, pubs, pubRamp, api)
		if ctx.Err() != nil {
			return
		}

		lr.phase.Store(phaseJoining)
		lr.joinAll(ctx, subs, cfg.Ramp, api)
		if ctx.Err() != nil {
			return
		}

		lr.phase.Store(phaseSettling)
		lr.waitTracks(ctx, cfg.JoinTimeout)
		if ctx.Err() != nil {
			return
		}

		lr.phase.Store(phaseSteady)
		srv0 = lr.server.sample()
		cpu0 = selfCPU()
		steady = st.openWindow()
		t := time.NewTimer(cfg.Duration)
		defer t.Stop()
		select {
		case <-ctx.Done():
		case <-t.C:
			finished = true
		}
	}()

	if steady != nil {
		winEnd = st.closeWindow(steady)
		srv1 = lr.server.sample()
		cpu1 = selfCPU()
		// Let what was sent inside the window arrive.
		time.Sleep(drainGrace)
	}
	lr.phase.Store(phaseDone)
	rep := lr.buildReport(steady, winEnd, cpu1-cpu0, srv0, srv1)
	rep.Partial = !finished
	// Socket counters vanish with the sockets: read them before leaving.
	if d, ok := udpSocketDrops(os.Getpid()); ok && cliDropsOK {
		rep.UDPSocketDrops = &SocketDrops{Client: d - min(d, cliDrops0)}
		if lr.server != nil {
			if d, ok := udpSocketDrops(lr.server.pid); ok && srvDropsOK {
				v := d - min(d, srvDrops0)
				rep.UDPSocketDrops.Server = &v
			}
		}
	}

	stopProgress()
	<-progressDone
	if !lr.cfg.Quiet && lr.isTTY {
		fmt.Fprintln(lr.progressW)
	}

	if rcvbuf1, ok := udpRcvbufErrors(); ok && rcvbufOK {
		rep.UDPRcvbufErrors = rcvbuf1 - rcvbuf0
	} else {
		rep.UDPRcvbufErrors = -1
	}
	st.mu.Lock()
	rep.Series = append([]sample(nil), st.series...)
	st.mu.Unlock()
	lr.evaluate(rep)
	leave := func() { lr.leaveAll(append(subs, pubs...)) }
	return rep, leave, nil
}

// joinAll joins ps at rate per second (0: as fast as maxConcurrentJoins
// allows) and returns when every join has finished or failed.
func (lr *loadRun) joinAll(ctx context.Context, ps []*participant, rate float64, api *webrtc.API) {
	var wg sync.WaitGroup
	sem := make(chan struct{}, maxConcurrentJoins)
	start := time.Now()
	for i, p := range ps {
		if rate > 0 {
			due := start.Add(time.Duration(float64(i) / rate * float64(time.Second)))
			if d := time.Until(due); d > 0 {
				select {
				case <-ctx.Done():
				case <-time.After(d):
				}
			}
		}
		select {
		case <-ctx.Done():
		case sem <- struct{}{}:
		}
		if ctx.Err() != nil {
			break
		}
		lr.st.addParticipant(p)
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			jctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			defer cancel()
			if err := p.join(jctx, lr.cfg, api, lr.log); err != nil {
				lr.st.addJoinError(fmt.Sprintf("%s: %v", p.name, err))
				return
			}
			lr.st.joined.Add(1)
		}()
	}
	wg.Wait()
}

// waitTracks waits until every expected track has delivered a packet, or
// timeout.
func (lr *loadRun) waitTracks(ctx context.Context, timeout time.Duration) {
	deadline := time.Now().Add(timeout)
	for ctx.Err() == nil {
		exp, got, _ := lr.trackCounts(time.Time{})
		if got >= exp || time.Now().After(deadline) {
			return
		}
		sleepCtx(ctx, 50*time.Millisecond)
	}
}

// trackCounts returns how many (subscriber, track) pairs are expected, how
// many have delivered a packet, and how many delivered one since since.
func (lr *loadRun) trackCounts(since time.Time) (expected, received, flowing int) {
	// Only tracks whose publisher has joined count. Asked before taking
	// any subscriber's lock: one participant's lock is never held while
	// taking another's.
	var pubs []*pubTrack
	for _, pt := range lr.st.snapshotPubs() {
		if pt.owner.serverID() != "" {
			pubs = append(pubs, pt)
		}
	}
	for _, p := range lr.st.snapshotParticipants() {
		if !p.subscribes || p.serverID() == "" {
			continue
		}
		p.mu.Lock()
		for _, pt := range pubs {
			if !p.expects(pt) {
				continue
			}
			expected++
			if r := p.recv[pt]; r != nil {
				r.mu.Lock()
				if r.have {
					received++
					if !r.lastAt.Before(since) {
						flowing++
					}
				}
				r.mu.Unlock()
			}
		}
		p.mu.Unlock()
	}
	return expected, received, flowing
}

// leaveAll closes every client, several at a time, within CloseTimeout.
func (lr *loadRun) leaveAll(ps []*participant) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		var wg sync.WaitGroup
		sem := make(chan struct{}, 32)
		for _, p := range ps {
			sem <- struct{}{}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				_ = p.leave()
			}()
		}
		wg.Wait()
	}()
	select {
	case <-done:
	case <-time.After(lr.cfg.CloseTimeout):
		fmt.Fprintf(lr.stderr, "loadtest: some clients did not leave within %v\n", lr.cfg.CloseTimeout)
	}
}

func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// progressLoop samples the counters every second, prints the progress line
// and keeps the series for the plots.
func (lr *loadRun) progressLoop(ctx context.Context) {
	st := lr.st
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	last := time.Now()
	lastOut, lastIn, lastExp, lastNacks := st.pktsOut.Load(), st.pktsIn.Load(), st.expectedIn.Load(), st.nacksSent.Load()
	lastBytes := st.bytesIn.Load()
	lastCPU := selfCPU()
	lastSrv := lr.server.sample()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		now := time.Now()
		dt := now.Sub(last).Seconds()
		out, in, exp, nacks, bytes := st.pktsOut.Load(), st.pktsIn.Load(), st.expectedIn.Load(), st.nacksSent.Load(), st.bytesIn.Load()
		cpu := selfCPU()
		srv := lr.server.sample()
		h := st.latInterval.snapshot(true)
		exptd, _, flowing := lr.trackCounts(now.Add(-2 * time.Second))
		s := sample{
			T:              round(now.Sub(st.start).Seconds(), 2),
			Phase:          lr.phase.Load().(string),
			Joined:         st.joined.Load(),
			TracksFlowing:  flowing,
			TracksExpected: exptd,
			PPSOut:         round(float64(out-lastOut)/dt, 1),
			PPSIn:          round(float64(in-lastIn)/dt, 1),
			KbpsIn:         round(float64(bytes-lastBytes)*8/1000/dt, 1),
			P50MS:          round(h.Quantile(0.50), 3),
			P95MS:          round(h.Quantile(0.95), 3),
			P99MS:          round(h.Quantile(0.99), 3),
			MaxMS:          round(h.MaxMS(), 3),
			NacksPerSec:    round(float64(nacks-lastNacks)/dt, 1),
			ClientCPUPct:   round((cpu-lastCPU).Seconds()/dt*100, 1),
		}
		if de := exp - lastExp; de > 0 {
			got := float64(in - lastIn)
			s.LossPct = round(max(0, 100*(1-got/float64(de))), 3)
		}
		if srv.ok && lastSrv.ok {
			s.ServerCPUPct = round((srv.cpu-lastSrv.cpu).Seconds()/dt*100, 1)
			s.ServerRSSMB = round(float64(srv.rss)/(1<<20), 1)
		}
		st.mu.Lock()
		st.series = append(st.series, s)
		st.mu.Unlock()
		last, lastOut, lastIn, lastExp, lastNacks, lastBytes, lastCPU, lastSrv = now, out, in, exp, nacks, bytes, cpu, srv
		if !lr.cfg.Quiet {
			lr.printProgress(s)
		}
	}
}

func (lr *loadRun) printProgress(s sample) {
	total := lr.cfg.Publishers + lr.cfg.Subscribers
	line := fmt.Sprintf("[%6.1fs %-10s] joined %d/%d  tracks %d/%d  pkt/s out %.0f in %.0f  loss %.2f%%  p99 %.2f ms",
		s.T, s.Phase, s.Joined, total, s.TracksFlowing, s.TracksExpected, s.PPSOut, s.PPSIn, s.LossPct, s.P99MS)
	if s.ServerRSSMB > 0 {
		line += fmt.Sprintf("  server %.0f%% cpu %.0f MB", s.ServerCPUPct, s.ServerRSSMB)
	}
	if lr.isTTY {
		fmt.Fprintf(lr.progressW, "\r%s\x1b[K", line)
	} else {
		fmt.Fprintln(lr.progressW, line)
	}
}
