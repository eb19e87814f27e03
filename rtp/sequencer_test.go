package rtp

import (
	"testing"
	"unsafe"
)

// A down-track that skips packets on purpose sends a stream without gaps;
// a packet lost before Prism stays a gap the subscriber can NACK; a late
// packet gets the number its place calls for; and NACKs map back.
func TestSequencerSkipsLeaveNoGap(t *testing.T) {
	s := NewSequencer(64, 65534)
	s.Start(0, 1000)
	type step struct {
		src  uint64
		skip bool
		want uint16 // for sent packets
	}
	steps := []step{
		{1000, false, 65534},
		{1001, true, 0},
		{1002, true, 0},
		{1003, false, 65535},
		// 1004 is lost upstream: its number, 0, stays free.
		{1005, false, 1},
		{1006, true, 0},
		{1007, false, 2},
		{1004, false, 0}, // late, and takes its place
	}
	for i, st := range steps {
		if st.skip {
			s.Skip(st.src)
			continue
		}
		out, ok := s.Next(st.src)
		if !ok || out != st.want {
			t.Fatalf("step %d (src %d): out %d %v, want %d", i, st.src, out, ok, st.want)
		}
		s.Record(SeqEntry{Src: uint32(st.src), Out: out, Timestamp: uint32(st.src) * 10})
	}
	for out, src := range map[uint16]uint64{65534: 1000, 65535: 1003, 0: 1004, 1: 1005, 2: 1007} {
		e, ok := s.Lookup(out)
		if !ok || e.ExtendFrom(1007) != src || e.Timestamp != uint32(src)*10 {
			t.Fatalf("Lookup(%d) = %+v %v, want src %d", out, e, ok, src)
		}
	}
	if _, ok := s.Lookup(3); ok {
		t.Fatal("Lookup of a number not yet sent")
	}
	if s.LastOut() != 2 {
		t.Fatalf("LastOut %d", s.LastOut())
	}
}

// A new epoch continues the numbering from wherever the old stream stood,
// whatever the new stream's numbers, and refuses the old stream's packets.
func TestSequencerEpochs(t *testing.T) {
	s := NewSequencer(64, 10)
	if _, ok := s.Next(5); ok {
		t.Fatal("Next before Start")
	}
	s.Start(0, 500)
	for src := uint64(500); src < 505; src++ {
		s.Next(src)
	}
	s.Start(1, 90000)
	if out, ok := s.Next(90000); !ok || out != 15 || s.Stream() != 1 {
		t.Fatalf("first packet of the new epoch: %d %v stream %d, want 15", out, ok, s.Stream())
	}
	if _, ok := s.Next(89999); ok {
		t.Fatal("a packet from before the epoch was numbered")
	}
}

// Lookups survive the ring wrapping; entries older than the ring are gone.
func TestSequencerLookupWindow(t *testing.T) {
	s := NewSequencer(16, 0)
	s.Start(0, 1)
	for src := uint64(1); src <= 100; src++ {
		out, _ := s.Next(src)
		s.Record(SeqEntry{Src: uint32(src), Out: out})
	}
	if e, ok := s.Lookup(99); !ok || e.ExtendFrom(100) != 100 {
		t.Fatalf("newest: %+v %v", e, ok)
	}
	if e, ok := s.Lookup(84); !ok || e.ExtendFrom(100) != 85 {
		t.Fatalf("oldest kept: %+v %v", e, ok)
	}
	if _, ok := s.Lookup(83); ok {
		t.Fatal("entry older than the ring returned")
	}
}

// More skip runs than the history holds: late packets from before the
// oldest range are refused, recent ones still placed.
func TestSequencerRangeHistoryBound(t *testing.T) {
	s := NewSequencer(256, 0)
	s.Start(0, 1)
	for src := uint64(1); src <= 200; src++ {
		if src%3 == 0 {
			s.Skip(src)
			continue
		}
		s.Next(src)
	}
	if _, ok := s.Next(2); ok {
		t.Fatal("a packet older than the range history was numbered")
	}
	want := uint16(199 - 199/3 - 1) // 199 is the 133rd packet sent (number 132)
	if out, ok := s.Next(199); !ok || out != want {
		t.Fatalf("recent packet: %d %v, want %d", out, ok, want)
	}
}

func BenchmarkSequencer(b *testing.B) {
	s := NewSequencer(512, 0)
	s.Start(0, 1)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		src := uint64(i + 1)
		if i%4 == 3 {
			s.Skip(src)
			continue
		}
		out, _ := s.Next(src)
		s.Record(SeqEntry{Src: uint32(src), Out: out})
		if i%64 == 0 {
			s.Lookup(out - 10)
		}
	}
}

func TestSeqEntrySize(t *testing.T) {
	if n := unsafe.Sizeof(SeqEntry{}); n != 16 {
		t.Fatalf("SeqEntry is %d bytes, want 16", n)
	}
	e := SeqEntry{Src: 0xfffffff0}
	if got := e.ExtendFrom(1<<32 + 5); got != 0xfffffff0 {
		t.Fatalf("ExtendFrom across a 32-bit wrap: %#x", got)
	}
}
