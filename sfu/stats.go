package sfu

// Stats is a snapshot of what an SFU is doing, for tests, logs and (later)
// metrics.
type Stats struct {
	Rooms int
	// Transports counts subscriber transports by how their packets reach
	// the subscriber: "udp", "tcp", "pion" or "none" (not connected yet).
	Transports map[string]int
	// Total sums every transport's counters (its Mode is empty), and
	// ByMode those of the transports of each mode.
	Total  TransportStats
	ByMode map[string]TransportStats
	// Each is every transport's own snapshot.
	Each []TransportStats
	// Workers is the number of fan-out workers; MissedJobs counts packet
	// news a worker's full queue dropped (its down-tracks caught up from
	// the cache).
	Workers    int
	MissedJobs uint64
}

// Stats returns a snapshot of the SFU.
func (s *SFU) Stats() Stats {
	s.mu.Lock()
	st := Stats{Rooms: len(s.rooms), Transports: map[string]int{}, ByMode: map[string]TransportStats{}, Workers: s.engine.Workers()}
	ts := make([]*Transport, 0, len(s.transports))
	for t := range s.transports {
		ts = append(ts, t)
	}
	s.mu.Unlock()
	for _, t := range ts {
		ts := t.Stats()
		st.Each = append(st.Each, ts)
		st.Transports[ts.Mode]++
		st.Total.add(ts)
		sum := st.ByMode[ts.Mode]
		sum.Mode = ts.Mode
		sum.add(ts)
		st.ByMode[ts.Mode] = sum
	}
	for _, w := range s.engine.workers {
		st.MissedJobs += w.missed.Load()
	}
	return st
}

func (a *TransportStats) add(b TransportStats) {
	a.Sent += b.Sent
	a.Dropped += b.Dropped
	a.TWCCFeedback += b.TWCCFeedback
	a.TWCCAcked += b.TWCCAcked
	a.TWCCLost += b.TWCCLost
	a.NACKs += b.NACKs
	a.Retransmits += b.Retransmits
	a.KeyframeRequests += b.KeyframeRequests
	a.REMB += b.REMB
}
