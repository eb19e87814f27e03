package main

import (
	"fmt"
	"slices"
	"time"
)

// maxListed bounds the missing tracks a report names one by one.
const maxListed = 20

// buildReport turns the counters into a Report. With a steady window, the
// packet, loss, latency and bitrate figures cover it exactly: a packet
// counts when its publisher sent it inside the window, whenever it arrived
// before the report. Without one (interrupted early) they cover each
// track from its first to its last packet.
func (lr *loadRun) buildReport(w *window, winEnd time.Time, clientCPU time.Duration, srv0, srv1 serverSample) *Report {
	cfg, st := lr.cfg, lr.st
	rep := &Report{
		Started: st.start,
		Setup: Setup{
			URL: cfg.URL, Room: cfg.Room, Rooms: cfg.Rooms,
			Publishers: cfg.Publishers, Subscribers: cfg.Subscribers, Conference: cfg.Conference,
			Video: cfg.Video, Audio: cfg.Audio, VideoBitrateKbps: float64(cfg.VideoBitrate) / 1000,
			FPS: cfg.FPS, KeyframeInterval: cfg.KeyframeInterval.String(), Duration: cfg.Duration.String(),
			Ramp: cfg.Ramp,
		},
		Clients: ClientCounts{
			Publishers: cfg.Publishers, Subscribers: cfg.Subscribers,
			Joined: st.joined.Load(), Failed: st.joinFailed.Load(),
		},
		NacksSent:     st.nacksSent.Load(),
		NackedPackets: st.nackedSeqs.Load(),
		PlisSent:      st.plisSent.Load(),
	}
	if cfg.MaxLossPct >= 0 {
		v := cfg.MaxLossPct
		rep.Setup.MaxLossPct = &v
	}
	rep.Setup.MaxP99MS = float64(cfg.MaxP99) / float64(time.Millisecond)

	pubs := st.snapshotPubs()
	var windowSec float64
	if w != nil {
		rep.Window = "steady"
		windowSec = winEnd.Sub(w.start).Seconds()
		rep.WindowStartS = round(w.start.Sub(st.start).Seconds(), 3)
	} else {
		rep.Window = "whole-run"
		windowSec = time.Since(st.start).Seconds()
	}
	rep.WindowSeconds = round(windowSec, 3)

	// What each publisher track sent in the window.
	span := func(pt *pubTrack) uint64 {
		if w == nil {
			return pt.sent.Load()
		}
		if pt.idx >= len(w.startSeq) {
			return 0 // published after the window opened
		}
		end := w.endSeq[pt.idx].Load()
		if end < w.startSeq[pt.idx] {
			return 0
		}
		return end - w.startSeq[pt.idx]
	}
	for _, pt := range pubs {
		rep.PacketsSent += span(pt)
		rep.PlisReceived += pt.plisIn.Load()
		rep.Keyframes += pt.keyframes.Load()
	}

	var bitrates []float64
	var joinTimes []time.Duration
	for _, p := range st.snapshotParticipants() {
		if !p.subscribes {
			continue
		}
		joined := p.serverID() != ""
		subState := ""
		if joined {
			subState = p.subscribeState() // before p.mu, which it takes
		}
		// Join time: for each expected track, from the moment both ends
		// were ready (the subscriber connecting, or the track going live
		// if that came later) to its first packet; the subscriber's is the
		// slowest of its tracks. In fan-out that is WebSocket connect to
		// the first packet of every track.
		var joinTime time.Duration
		joinComplete := joined
		p.mu.Lock()
		for _, pt := range pubs {
			if !p.expects(pt) {
				continue
			}
			rep.TracksExpected++
			r := p.recv[pt]
			var have bool
			var firstAt time.Time
			var recv, bytes, expected uint64
			if r != nil {
				r.mu.Lock()
				have, firstAt = r.have, r.firstAt
				if w != nil {
					expected = span(pt)
					if r.winID == w.id {
						recv, bytes = r.winRecv, r.winBytes
					}
				} else if r.have {
					expected = r.highest - r.firstSeq + 1
					recv = r.received
				}
				r.mu.Unlock()
			} else if w != nil {
				expected = span(pt)
			}
			if !joined {
				expected = 0
			}
			rep.PacketsExpected += expected
			rep.PacketsReceived += recv
			if have {
				rep.TracksReceived++
				ready := p.connectAt
				if live := time.Unix(0, pt.liveAt.Load()); pt.live.Load() && live.After(ready) {
					ready = live
				}
				joinTime = max(joinTime, firstAt.Sub(ready))
			} else if len(rep.MissingTracks) < maxListed {
				why := " (subscriber never joined)"
				if joined {
					offered := "never offered to the client"
					if r != nil {
						offered = "offered, no packet"
					}
					why = fmt.Sprintf(" (%s; subscribe connection %s)", offered, subState)
				}
				rep.MissingTracks = append(rep.MissingTracks, fmt.Sprintf("%s never received %s%s", p.name, pt.id, why))
			}
			if !have {
				joinComplete = false
			}
			if pt.kind == "video" && w != nil && windowSec > 0 {
				bitrates = append(bitrates, float64(bytes)*8/1000/windowSec)
			}
		}
		p.mu.Unlock()
		if joinComplete && joinTime > 0 {
			joinTimes = append(joinTimes, joinTime)
		}
	}
	if missing := rep.TracksExpected - rep.TracksReceived; missing > len(rep.MissingTracks) {
		rep.MissingTracks = append(rep.MissingTracks, fmt.Sprintf("... %d missing in all", missing))
	}
	if rep.PacketsExpected > 0 {
		lost := float64(rep.PacketsExpected) - float64(min(rep.PacketsReceived, rep.PacketsExpected))
		rep.LossPct = round(100*lost/float64(rep.PacketsExpected), 4)
	}
	rep.Duplicates = st.dupIn.Load()
	rep.UnknownTracks = st.unknownTracks.Load()
	rep.UnstampedPackets = st.badStamp.Load()
	if windowSec > 0 {
		rep.PPSOut = round(float64(rep.PacketsSent)/windowSec, 1)
		rep.PPSIn = round(float64(rep.PacketsReceived)/windowSec, 1)
	}

	if len(bitrates) > 0 {
		slices.Sort(bitrates)
		rep.BitrateKbps = Bitrate{
			Min:    round(bitrates[0], 1),
			P50:    round(floatPercentile(bitrates, 0.5), 1),
			Tracks: len(bitrates),
		}
	}

	var h *histSnapshot
	if w != nil {
		h = st.latWin.snapshot(false)
	} else {
		h = st.latAll.snapshot(false)
	}
	rep.LatencyMS = Latency{
		P50:   round(h.Quantile(0.50), 3),
		P95:   round(h.Quantile(0.95), 3),
		P99:   round(h.Quantile(0.99), 3),
		Max:   round(h.MaxMS(), 3),
		Count: h.Count(),
	}

	st.mu.Lock()
	rep.JoinMS = durationPercentiles(joinTimes)
	rep.JoinErrors = append([]string(nil), st.joinErrors...)
	st.mu.Unlock()

	if w != nil {
		rep.ClientCPUSeconds = round(clientCPU.Seconds(), 3)
	} else {
		rep.ClientCPUSeconds = round(selfCPU().Seconds(), 3)
	}
	if lr.server != nil && srv1.ok && srv0.ok {
		cpu := (srv1.cpu - srv0.cpu).Seconds()
		s := &Server{
			PID:        lr.server.pid,
			CPUSeconds: round(cpu, 3),
			RSSMB:      round(float64(srv1.rss)/(1<<20), 1),
			RSSPeakMB:  round(float64(srv1.peak)/(1<<20), 1),
		}
		if windowSec > 0 {
			s.CPUPct = round(100*cpu/windowSec, 1)
		}
		if rep.PacketsReceived > 0 {
			s.CPUUsPerPacket = round(cpu*1e6/float64(rep.PacketsReceived), 3)
		}
		rep.Server = s
	} else if lr.server != nil {
		// Interrupted before the window: report what the process holds.
		if now := lr.server.sample(); now.ok {
			rep.Server = &Server{
				PID:        lr.server.pid,
				CPUSeconds: round(now.cpu.Seconds(), 3),
				RSSMB:      round(float64(now.rss)/(1<<20), 1),
				RSSPeakMB:  round(float64(now.peak)/(1<<20), 1),
			}
		}
	}
	return rep
}

// evaluate checks the thresholds and sets Violations and Pass.
func (lr *loadRun) evaluate(rep *Report) {
	cfg := lr.cfg
	if cfg.MaxLossPct >= 0 && rep.LossPct > cfg.MaxLossPct {
		rep.Violations = append(rep.Violations, fmt.Sprintf("loss %.3f%% exceeds -max-loss %.3f%%", rep.LossPct, cfg.MaxLossPct))
	}
	if cfg.MaxP99 > 0 && rep.LatencyMS.P99 > float64(cfg.MaxP99)/float64(time.Millisecond) {
		rep.Violations = append(rep.Violations, fmt.Sprintf("p99 latency %.2f ms exceeds -max-p99-latency %v", rep.LatencyMS.P99, cfg.MaxP99))
	}
	if n := rep.TracksExpected - rep.TracksReceived; n > 0 {
		rep.Violations = append(rep.Violations, fmt.Sprintf("%d of %d expected tracks never arrived", n, rep.TracksExpected))
	}
	if rep.Clients.Failed > 0 {
		rep.Violations = append(rep.Violations, fmt.Sprintf("%d clients failed to join", rep.Clients.Failed))
	}
	if rep.TracksExpected == 0 && !rep.Partial {
		rep.Violations = append(rep.Violations, "no track was expected: nothing was measured")
	}
	rep.Pass = len(rep.Violations) == 0
}
