package signaling_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pion/dtls/v3"
	"github.com/pion/webrtc/v4"

	"github.com/prismsfu/prism/internal/testenv"
	"github.com/prismsfu/prism/signaling/client"
	"github.com/prismsfu/prism/signaling/protocol"
)

// logBook finds a publisher's sent log by track id.
type logBook struct {
	mu   sync.Mutex
	logs map[string]*sentLog
}

func (b *logBook) add(p *publisher) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.logs == nil {
		b.logs = make(map[string]*sentLog)
	}
	b.logs[p.videoID] = p.videoLog
	b.logs[p.audioID] = p.audioLog
}

func (b *logBook) get(id string) *sentLog {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.logs[id]
}

// Three participants publish Opus + VP8 and each receives exactly the four
// remote tracks, byte-identical and in order; a fourth who joins late gets
// all six, each video starting at a keyframe, within a second.
func TestThreeParticipantsAndLateJoiner(t *testing.T) {
	srv := testenv.StartServer(t, testenv.Options{})
	var book logBook
	var members []*member
	for i := 0; i < 3; i++ {
		m := startMember(t, srv, "room", fmt.Sprintf("m%d", i), book.get)
		book.add(m.publisher)
		members = append(members, m)
	}
	waitFor(t, 10*time.Second, "every member to receive 4 flowing tracks", func() bool {
		for _, m := range members {
			snap := m.sub.snapshot()
			if len(snap) != 4 {
				return false
			}
			for _, r := range snap {
				if r.packets < 50 {
					return false
				}
			}
		}
		return true
	})
	for i, m := range members {
		snap := m.sub.snapshot()
		if len(snap) != 4 {
			t.Fatalf("member %d received %d tracks, want 4", i, len(snap))
		}
		for key, r := range snap {
			if strings.HasPrefix(key, m.c.ID()+"/") {
				t.Errorf("member %d received its own track %s", i, key)
			}
			if r.mismatched > 0 {
				t.Errorf("member %d track %s: %d payloads differ from what was sent", i, key, r.mismatched)
			}
			if r.outOfOrder > 0 {
				t.Errorf("member %d track %s: %d packets out of order", i, key, r.outOfOrder)
			}
			if strings.HasPrefix(r.mime, "video") && !r.firstKeyframe {
				t.Errorf("member %d track %s: first packet is not a keyframe", i, key)
			}
		}
	}

	joinedAt := time.Now()
	late := startSubscriber(t, srv, "room", "late", clientConfig(), book.get)
	waitFor(t, 5*time.Second, "the late joiner to receive 6 tracks", func() bool {
		snap := late.snapshot()
		if len(snap) != 6 {
			return false
		}
		for _, r := range snap {
			if r.packets == 0 {
				return false
			}
		}
		return true
	})
	for key, r := range late.snapshot() {
		t.Logf("late joiner: %s first packet %v after join", key, r.firstAt.Sub(joinedAt).Round(time.Millisecond))
		if d := r.firstAt.Sub(joinedAt); d > time.Second {
			t.Errorf("late joiner: track %s started %v after join, want within 1s", key, d)
		}
		if strings.HasPrefix(r.mime, "video") && !r.firstKeyframe {
			t.Errorf("late joiner: video %s did not start with a keyframe", key)
		}
		if r.mismatched > 0 {
			t.Errorf("late joiner: track %s: %d payloads differ", key, r.mismatched)
		}
	}
}

// Prism negotiates AES-GCM SRTP when the client offers it, and still
// serves a client that only has AES-CM.
func TestSRTPProfiles(t *testing.T) {
	srv := testenv.StartServer(t, testenv.Options{})
	startPublisher(t, srv, "srtp", "pub", clientConfig())
	for _, tc := range []struct {
		name     string
		profiles []dtls.SRTPProtectionProfile
	}{
		{"AES-GCM only", []dtls.SRTPProtectionProfile{dtls.SRTP_AEAD_AES_128_GCM}},
		{"AES-CM only", []dtls.SRTPProtectionProfile{dtls.SRTP_AES128_CM_HMAC_SHA1_80}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			api, err := client.NewAPI(client.APIOptions{LoopbackOnly: true, Settings: func(se *webrtc.SettingEngine) {
				se.SetSRTPProtectionProfiles(tc.profiles...)
			}})
			if err != nil {
				t.Fatal(err)
			}
			s := startSubscriber(t, srv, "srtp", tc.name, client.Config{API: api}, nil)
			waitFor(t, 5*time.Second, "media over "+tc.name, func() bool { return flowing(s, 2) })
		})
	}
}

// With a public IP configured (-public-ip), Prism's ICE candidates carry
// it instead of the host's address.
func TestPublicIPAdvertised(t *testing.T) {
	srv := testenv.StartServer(t, testenv.Options{PublicIPs: []string{"203.0.113.7"}})
	cands := make(chan string, 16)
	c := srv.Join(t, "public", "pub", client.Config{OnMessage: func(m protocol.Message) {
		if m.Type == protocol.TypeCandidate && m.Candidate != nil {
			select {
			case cands <- m.Candidate.Candidate:
			default:
			}
		}
	}})
	track, err := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}, "a", "s")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Publish(track, "microphone"); err != nil {
		t.Fatal(err)
	}
	select {
	case cand := <-cands:
		if !strings.Contains(cand, " 203.0.113.7 ") || strings.Contains(cand, "127.0.0.1") {
			t.Fatalf("candidate %q, want the public address in place of 127.0.0.1", cand)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Prism sent no candidate")
	}
}
