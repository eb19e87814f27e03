package signaling_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/prismsfu/prism/internal/testenv"
	"github.com/prismsfu/prism/signaling/client"
	"github.com/prismsfu/prism/signaling/protocol"
)

// A client that stops answering pings is dropped, and the others hear that
// it left. (The session's logger, which gains the participant at join and
// which the ping goroutine logs through, was once written without a lock:
// the race detector fails this test on that code.)
func TestSilentClientIsDropped(t *testing.T) {
	srv := testenv.StartServer(t, testenv.Options{PingInterval: 100 * time.Millisecond})
	var left sync.WaitGroup
	left.Add(1)
	var once sync.Once
	srv.Join(t, "pings", "watcher", client.Config{OnParticipantLeft: func(string) { once.Do(left.Done) }})
	r := dialRaw(t, srv)
	r.join("pings")
	// Stop reading: the WebSocket library answers pings only while it
	// reads, so the server's pings go unanswered.
	done := make(chan struct{})
	go func() { left.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("the silent client was not dropped")
	}
}

// An offer on the subscribe connection that gets no answer does not wedge
// negotiation: the client is told, offered again, and dropped after a
// second failure. A client that answers the second offer carries on.
func TestUnansweredOfferIsRetriedThenDropped(t *testing.T) {
	srv := testenv.StartServer(t, testenv.Options{AnswerTimeout: 300 * time.Millisecond})
	startPublisher(t, srv, "neg", "pub", clientConfig())

	mute := dialRaw(t, srv)
	mute.join("neg")
	first := mute.expect(protocol.TypeOffer)
	mute.expectError(protocol.CodeNegotiationFailed, "no answer")
	second := mute.expect(protocol.TypeOffer)
	if first.SDP == "" || second.SDP == "" || first.PC != protocol.PCSubscribe {
		t.Fatal("offers without SDP")
	}
	bye := mute.expect(protocol.TypeLeave)
	if bye.Code != protocol.CodeNegotiationFailed {
		t.Fatalf("dropped with %s %q, want %s", bye.Code, bye.Reason, protocol.CodeNegotiationFailed)
	}

	// A client whose first answer does not apply gets bad_sdp and a new
	// offer; answering that one, it receives media.
	mangled := false
	proxy := &recordingProxy{target: srv.WSURL, rewrite: func(m *protocol.Message) {
		if m.Type == protocol.TypeAnswer && !mangled {
			mangled = true
			m.SDP = "v=0\r\nnot an answer\r\n"
		}
	}}
	var errs sync.Map
	sub := startSubscriber(t, proxied(t, srv, proxy), "neg", "recovers", client.Config{OnMessage: func(m protocol.Message) {
		if m.Type == protocol.TypeError {
			errs.Store(m.Code, true)
		}
	}}, nil)
	waitFor(t, 5*time.Second, "media after a failed answer", func() bool { return flowing(sub, 2) })
	if _, ok := errs.Load(protocol.CodeBadSDP); !ok {
		t.Fatal("the bad answer was not reported")
	}
}

// A version-1 join with fields this server has never heard of is
// accepted: newer clients do not break older servers.
func TestJoinWithUnknownFieldsIsAccepted(t *testing.T) {
	srv := testenv.StartServer(t, testenv.Options{})
	r := dialRaw(t, srv)
	r.send(`{"type":"join","version":1,"room":"future","name":"ann","avatar":{"url":"https://x"},"e2ee":true}`)
	m := r.expect(protocol.TypeJoined)
	if m.ParticipantID == "" || m.Room != "future" {
		t.Fatalf("joined %+v", m)
	}
	r.send(`{"type":"chat","text":"hi","reply_to":"m1"}`)
	if c := r.expect(protocol.TypeChat); c.Text != "hi" || c.From == nil || c.From.Name != "ann" {
		t.Fatalf("chat %+v", c)
	}
}

// recordingProxy stands between a client and Prism and keeps every
// message the client sends, after rewrite (if set) has changed it.
type recordingProxy struct {
	target  string
	rewrite func(*protocol.Message)
	mu      sync.Mutex
	sent    []protocol.Message
}

// proxied returns srv as reached through p.
func proxied(t *testing.T, srv *testenv.Server, p *recordingProxy) *testenv.Server {
	hs := httptest.NewServer(p)
	t.Cleanup(hs.Close)
	c := *srv
	c.WSURL = "ws" + strings.TrimPrefix(hs.URL, "http")
	return &c
}

func (p *recordingProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	in, err := websocket.Accept(w, r, nil)
	if err != nil {
		return
	}
	defer in.CloseNow()
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	out, _, err := websocket.Dial(ctx, p.target, nil)
	if err != nil {
		return
	}
	defer out.CloseNow()
	in.SetReadLimit(1 << 20)
	out.SetReadLimit(1 << 20)
	go func() {
		defer cancel()
		for {
			typ, b, err := out.Read(ctx)
			if err != nil || in.Write(ctx, typ, b) != nil {
				return
			}
		}
	}()
	for {
		typ, b, err := in.Read(ctx)
		if err != nil {
			return
		}
		var m protocol.Message
		if json.Unmarshal(b, &m) == nil {
			p.mu.Lock()
			if p.rewrite != nil {
				p.rewrite(&m)
				b, _ = protocol.Encode(m)
			}
			p.sent = append(p.sent, m)
			p.mu.Unlock()
		}
		if out.Write(ctx, typ, b) != nil {
			return
		}
	}
}

// The Go client sends each candidate with its usernameFragment, as
// RTCIceCandidateInit has it, so that the far end can tell a candidate of
// an old ICE generation from a current one.
func TestClientCandidatesCarryUsernameFragment(t *testing.T) {
	srv := testenv.StartServer(t, testenv.Options{})
	proxy := &recordingProxy{target: srv.WSURL}
	startPublisher(t, proxied(t, srv, proxy), "ufrag", "pub", clientConfig())
	waitFor(t, 5*time.Second, "the client's candidates", func() bool {
		proxy.mu.Lock()
		defer proxy.mu.Unlock()
		for _, m := range proxy.sent {
			if m.Type == protocol.TypeCandidate {
				return true
			}
		}
		return false
	})
	proxy.mu.Lock()
	defer proxy.mu.Unlock()
	for _, m := range proxy.sent {
		if m.Type == protocol.TypeCandidate && (m.Candidate.UsernameFragment == nil || *m.Candidate.UsernameFragment == "") {
			t.Fatalf("candidate without usernameFragment: %+v", *m.Candidate)
		}
	}
}
