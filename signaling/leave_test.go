package signaling_test

import (
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/prismsfu/prism/internal/testenv"
	"github.com/prismsfu/prism/signaling/client"
	"github.com/prismsfu/prism/signaling/protocol"
)

// events records the room events a client was told about.
type events struct {
	mu           sync.Mutex
	left         []string
	unpublished  []string
	joinedNames  []string
	errors       []protocol.Message
	leaves       []protocol.Message
	chats        []string
	mutedUpdates []protocol.Track
}

func (e *events) config() client.Config {
	return client.Config{
		OnParticipantLeft: func(id string) { e.mu.Lock(); e.left = append(e.left, id); e.mu.Unlock() },
		OnTrackUnpublished: func(tr protocol.Track) {
			e.mu.Lock()
			e.unpublished = append(e.unpublished, tr.ParticipantID+"/"+tr.ID)
			e.mu.Unlock()
		},
		OnParticipantJoined: func(p protocol.Participant) {
			e.mu.Lock()
			e.joinedNames = append(e.joinedNames, p.Name)
			e.mu.Unlock()
		},
		OnTrackMuted: func(tr protocol.Track) {
			e.mu.Lock()
			e.mutedUpdates = append(e.mutedUpdates, tr)
			e.mu.Unlock()
		},
		OnChat: func(from protocol.Participant, text string) {
			e.mu.Lock()
			e.chats = append(e.chats, from.Name+": "+text)
			e.mu.Unlock()
		},
		OnMessage: func(m protocol.Message) {
			e.mu.Lock()
			defer e.mu.Unlock()
			switch m.Type {
			case protocol.TypeError:
				e.errors = append(e.errors, m)
			case protocol.TypeLeave:
				e.leaves = append(e.leaves, m)
			}
		},
	}
}

func (e *events) count(f func() int) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return f()
}

// A participant leaves: the others are told, their subscribe connections
// drop its tracks, the room closes when empty, and no goroutine is left.
func TestLeaveClosesTracksAndRoom(t *testing.T) {
	srv := testenv.StartServer(t, testenv.Options{})
	a := startMember(t, srv, "leave", "a", nil)
	b := startMember(t, srv, "leave", "b", nil)
	var ev events
	cfg := ev.config()
	obs := startSubscriber(t, srv, "leave", "observer", cfg, nil)
	waitFor(t, 5*time.Second, "observer to receive 4 tracks", func() bool { return flowing(obs, 4) })

	leftAt := time.Now()
	aID := a.c.ID()
	a.stop()
	if err := a.c.Close(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 3*time.Second, "observer to hear that a left and its 2 tracks were unpublished", func() bool {
		return ev.count(func() int { return len(ev.left) }) == 1 && ev.count(func() int { return len(ev.unpublished) }) == 2
	})
	ev.mu.Lock()
	if ev.left[0] != aID {
		t.Errorf("participant_left for %q, want %q", ev.left[0], aID)
	}
	ev.mu.Unlock()
	waitFor(t, 3*time.Second, "observer's subscribe connection to drop a's tracks", func() bool {
		for key, r := range obs.snapshot() {
			if key[:len(aID)+1] == aID+"/" && !r.ended {
				return false
			}
		}
		return true
	})
	t.Logf("a's tracks gone on the observer %v after a left", time.Since(leftAt))
	// b's tracks still flow.
	before := packetsFrom(obs, b.c.ID())
	time.Sleep(300 * time.Millisecond)
	if after := packetsFrom(obs, b.c.ID()); after <= before {
		t.Fatalf("b's media stopped after a left: %d then %d packets", before, after)
	}

	b.stop()
	_ = b.c.Close()
	_ = obs.c.Close()
	waitFor(t, 3*time.Second, "the empty room to close", func() bool { return srv.SFU.Rooms() == 0 })
	srv.Close()
}

// Fifty participants join, publish and leave in turn while another
// watches; afterwards the server runs as many goroutines as before.
func TestJoinLeaveCyclesLeakNothing(t *testing.T) {
	srv := testenv.StartServer(t, testenv.Options{})
	obs := startSubscriber(t, srv, "cycles", "observer", clientConfig(), nil)
	cycle := func(i int) {
		m := startMember(t, srv, "cycles", "visitor", nil)
		waitFor(t, 5*time.Second, "observer to receive the visitor's tracks", func() bool {
			return packetsFrom(obs, m.c.ID()) > 0
		})
		m.stop()
		_ = m.c.Close()
	}
	cycle(0) // warm up pools and lazily started goroutines
	settle()
	base := runtime.NumGoroutine()
	for i := 1; i <= 50; i++ {
		cycle(i)
	}
	var now int
	waitFor(t, 5*time.Second, "goroutines to return to the baseline", func() bool {
		settle()
		now = runtime.NumGoroutine()
		return now <= base+2
	})
	t.Logf("goroutines: %d before 50 cycles, %d after", base, now)
	if n := len(obs.c.SubscribeConnection().GetTransceivers()); n > 4 {
		t.Errorf("observer has %d transceivers after 50 visitors; stopped ones should be reused", n)
	}
}

func settle() { time.Sleep(100 * time.Millisecond); runtime.GC() }

// flowing reports whether s receives exactly n tracks, all with packets.
func flowing(s *subscriber, n int) bool {
	snap := s.snapshot()
	if len(snap) != n {
		return false
	}
	for _, r := range snap {
		if r.packets == 0 {
			return false
		}
	}
	return true
}

// packetsFrom counts the packets s received from one participant's tracks.
// An empty id counts every track.
func packetsFrom(s *subscriber, id string) int {
	n := 0
	for key, r := range s.snapshot() {
		if id == "" || len(key) > len(id) && key[:len(id)+1] == id+"/" {
			n += r.packets
		}
	}
	return n
}
