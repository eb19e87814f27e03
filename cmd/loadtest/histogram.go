package main

import (
	"math"
	"math/bits"
	"sync/atomic"
	"time"
)

// The latency histogram has fixed log-linear buckets over microseconds:
// values below 64 µs each have a bucket of their own, and every power-of-two
// range above is split into 64 equal buckets, so a recorded value is off by
// at most 1/64 (1.6%) of itself. Recording is one atomic add; nothing is
// allocated and no sample is stored.
const (
	histSubBits  = 6
	histSub      = 1 << histSubBits // buckets per power of two
	histMaxExp   = 30               // up to 2^(30+7) µs, far beyond any latency
	histBuckets  = histSub * (histMaxExp + 2)
	histMaxValue = (uint64(2*histSub) << histMaxExp) - 1
)

// histogram counts durations in fixed buckets. Safe for concurrent use.
type histogram struct {
	counts [histBuckets]atomic.Uint64
	max    atomic.Uint64 // µs
}

func histIndex(us uint64) int {
	if us < histSub {
		return int(us)
	}
	if us > histMaxValue {
		us = histMaxValue
	}
	e := bits.Len64(us) - histSubBits - 1 // us>>e is in [64, 128)
	return histSub + e*histSub + int(us>>uint(e)) - histSub
}

// histLow returns the smallest value, in µs, that falls in bucket i.
func histLow(i int) uint64 {
	if i < histSub {
		return uint64(i)
	}
	e := (i - histSub) / histSub
	m := uint64((i-histSub)%histSub + histSub)
	return m << uint(e)
}

// histMid returns a representative value of bucket i: its midpoint.
func histMid(i int) float64 {
	lo := histLow(i)
	hi := histLow(i+1) - 1
	return (float64(lo) + float64(hi)) / 2
}

// Record adds one duration. Negative durations (clock steps) count as zero.
func (h *histogram) Record(d time.Duration) {
	us := uint64(0)
	if d > 0 {
		us = uint64(d / time.Microsecond)
	}
	h.counts[histIndex(us)].Add(1)
	for {
		m := h.max.Load()
		if us <= m || h.max.CompareAndSwap(m, us) {
			break
		}
	}
}

// snapshot copies the counts; with reset it also zeroes them, so that
// concurrent records land in either this snapshot or the next one.
func (h *histogram) snapshot(reset bool) *histSnapshot {
	s := &histSnapshot{}
	for i := range h.counts {
		var n uint64
		if reset {
			n = h.counts[i].Swap(0)
		} else {
			n = h.counts[i].Load()
		}
		s.counts[i] = n
		s.total += n
	}
	if reset {
		s.maxUS = h.max.Swap(0)
	} else {
		s.maxUS = h.max.Load()
	}
	return s
}

// histSnapshot is a point-in-time copy of a histogram.
type histSnapshot struct {
	counts [histBuckets]uint64
	total  uint64
	maxUS  uint64
}

// Quantile returns the q-quantile (0..1) in milliseconds, or 0 when empty.
func (s *histSnapshot) Quantile(q float64) float64 {
	if s.total == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(s.total)))
	if rank < 1 {
		rank = 1
	}
	var seen uint64
	for i, n := range s.counts {
		seen += n
		if seen >= rank {
			v := histMid(i)
			if m := float64(s.maxUS); v > m {
				v = m // the top bucket's midpoint may exceed the true max
			}
			return v / 1000
		}
	}
	return float64(s.maxUS) / 1000
}

// MaxMS returns the largest recorded value in milliseconds.
func (s *histSnapshot) MaxMS() float64 { return float64(s.maxUS) / 1000 }

// Count returns the number of recorded values.
func (s *histSnapshot) Count() uint64 { return s.total }
