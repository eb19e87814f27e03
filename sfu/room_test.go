package sfu

import (
	"net"
	"sync"
	"testing"

	"github.com/pion/webrtc/v4"
	"go.uber.org/goleak"
)

// nopEvents ignores everything a participant is told.
type nopEvents struct{}

func (nopEvents) Offer(string)                          {}
func (nopEvents) Candidate(PC, webrtc.ICECandidateInit) {}
func (nopEvents) Room(Event)                            {}
func (nopEvents) Error(error)                           {}
func (nopEvents) Closed(error)                          {}
func (nopEvents) Layers(string, []LayerState)           {}

// Participants joining a room while it empties and closes never end up in
// a room that is no longer listed: whoever stays is seen by the next one to
// join. Every goroutine ends with Close.
func TestJoinWhileRoomCloses(t *testing.T) {
	defer goleak.VerifyNone(t)
	udp, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(Config{UDPConn: udp, LoopbackOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	var stayer *Participant
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 40; i++ {
				p, _, err := s.Join("churn", Identity{Name: "visitor", Permissions: AllowAll()}, nopEvents{})
				if err != nil {
					t.Error(err)
					return
				}
				if g == 0 && i == 20 {
					stayer = p
					continue
				}
				_ = p.Close()
			}
		}(g)
	}
	wg.Wait()
	if stayer == nil {
		t.Fatal("no participant stayed")
	}
	last, others, err := s.Join("churn", Identity{Name: "last", Permissions: AllowAll()}, nopEvents{})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, o := range others {
		found = found || o.ID == stayer.ID()
	}
	if !found || last.Room() != stayer.Room() {
		t.Fatalf("the last joiner does not see the participant who stayed (others %v)", others)
	}
	if n := s.Rooms(); n != 1 {
		t.Fatalf("%d rooms open, want 1", n)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if n := s.Rooms(); n != 0 {
		t.Fatalf("%d rooms open after Close", n)
	}
}
