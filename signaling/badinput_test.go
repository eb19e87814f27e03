package signaling_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/pion/webrtc/v4"

	"github.com/prismsfu/prism/internal/testenv"
	"github.com/prismsfu/prism/signaling/client"
	"github.com/prismsfu/prism/signaling/protocol"
)

// raw is a bare WebSocket client that can send anything.
type raw struct {
	t    *testing.T
	conn *websocket.Conn
}

func dialRaw(t *testing.T, srv *testenv.Server) *raw {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, _, err := websocket.Dial(ctx, srv.WSURL, nil)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	conn.SetReadLimit(1 << 20)
	t.Cleanup(func() { _ = conn.CloseNow() })
	return &raw{t: t, conn: conn}
}

func (r *raw) send(s string) {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := r.conn.Write(ctx, websocket.MessageText, []byte(s)); err != nil {
		r.t.Fatalf("send: %v", err)
	}
}

// expect reads messages until one of type typ arrives and returns it.
func (r *raw) expect(typ string) protocol.Message {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for {
		_, b, err := r.conn.Read(ctx)
		if err != nil {
			r.t.Fatalf("waiting for %s: %v", typ, err)
		}
		var m protocol.Message
		if err := json.Unmarshal(b, &m); err != nil {
			r.t.Fatalf("server sent invalid JSON %q: %v", b, err)
		}
		if m.Type == typ {
			return m
		}
	}
}

// expectError reads until an error message and checks its code and that
// its text mentions want.
func (r *raw) expectError(code, want string) {
	r.t.Helper()
	m := r.expect(protocol.TypeError)
	if m.Code != code || !strings.Contains(strings.ToLower(m.Reason), strings.ToLower(want)) {
		r.t.Fatalf("got error %s %q, want %s mentioning %q", m.Code, m.Reason, code, want)
	}
}

// stillAlive checks that the connection still answers.
func (r *raw) stillAlive() {
	r.t.Helper()
	r.send(`{"type":"keepalive"}`)
	r.expect(protocol.TypeKeepalive)
}

func (r *raw) join(room string) protocol.Message {
	r.t.Helper()
	r.send(`{"type":"join","version":1,"room":"` + room + `","name":"mallory"}`)
	return r.expect(protocol.TypeJoined)
}

// Each kind of bad input gets that client a clear error (or drops it), and
// the server and the room's other participants carry on.
func TestBadInput(t *testing.T) {
	srv := testenv.StartServer(t, testenv.Options{})
	startPublisher(t, srv, "bad", "pub", clientConfig())
	watcher := startSubscriber(t, srv, "bad", "watcher", clientConfig(), nil)
	waitFor(t, 5*time.Second, "media to flow", func() bool { return flowing(watcher, 2) })
	start := time.Now()

	t.Run("invalid JSON", func(t *testing.T) {
		r := dialRaw(t, srv)
		r.send(`{"type":"join",`)
		r.expectError(protocol.CodeBadMessage, "invalid JSON")
		r.stillAlive()
	})
	t.Run("unknown type", func(t *testing.T) {
		r := dialRaw(t, srv)
		r.send(`{"type":"teleport"}`)
		r.expectError(protocol.CodeUnknownType, `"teleport"`)
		r.stillAlive()
	})
	t.Run("over the size limit", func(t *testing.T) {
		r := dialRaw(t, srv)
		r.join("bad")
		r.send(`{"type":"chat","text":"` + strings.Repeat("x", protocol.MaxMessageSize) + `"}`)
		r.expectError(protocol.CodeTooLarge, "limit")
		r.stillAlive()
	})
	t.Run("garbage SDP", func(t *testing.T) {
		r := dialRaw(t, srv)
		r.join("bad")
		r.send(`{"type":"offer","pc":"publish","sdp":"v=0 this is not SDP"}`)
		r.expectError(protocol.CodeBadSDP, "SDP")
		r.stillAlive()
	})
	t.Run("candidate before offer", func(t *testing.T) {
		r := dialRaw(t, srv)
		r.join("bad")
		r.send(`{"type":"candidate","pc":"publish","candidate":{"candidate":"candidate:1 1 udp 2130706431 127.0.0.1 5000 typ host","sdpMid":"0"}}`)
		r.expectError(protocol.CodeBadCandidate, "before")
		r.stillAlive()
	})
	t.Run("join twice", func(t *testing.T) {
		r := dialRaw(t, srv)
		r.join("bad")
		r.send(`{"type":"join","version":1,"room":"other"}`)
		r.expectError(protocol.CodeAlreadyJoined, `"bad"`)
		r.stillAlive()
	})
	t.Run("publish before join", func(t *testing.T) {
		r := dialRaw(t, srv)
		r.send(`{"type":"publish","track":{"id":"t","kind":"video","source":"camera"}}`)
		r.expectError(protocol.CodeNotJoined, "join first")
		r.stillAlive()
	})
	t.Run("unsupported version", func(t *testing.T) {
		r := dialRaw(t, srv)
		r.send(`{"type":"join","version":99,"room":"bad"}`)
		r.expectError(protocol.CodeUnsupportedVersion, "version 99")
	})
	t.Run("burst of 1000 messages", func(t *testing.T) {
		r := dialRaw(t, srv)
		r.join("bad")
		for i := 0; i < 1000; i++ {
			r.send(`{"type":"mute","track_id":"none","muted":true}`)
		}
		// The first messages are handled (and refused: no such track);
		// then the rate limit drops the rest and says so.
		for {
			m := r.expect(protocol.TypeError)
			if m.Code == protocol.CodeUnknownTrack {
				continue
			}
			if m.Code != protocol.CodeRateLimited || !strings.Contains(m.Reason, "too many messages") {
				t.Fatalf("got error %s %q, want rate_limited", m.Code, m.Reason)
			}
			break
		}
	})
	t.Run("disconnect mid-handshake", func(t *testing.T) {
		// Only the publisher and the watcher stay; the clients of the cases
		// above may still be closing.
		const stayers = 2
		waitFor(t, 5*time.Second, "earlier test clients to be gone", func() bool {
			return srv.Signaling.Clients() == stayers
		})
		r := dialRaw(t, srv)
		r.join("bad")
		api, err := client.NewAPI(client.APIOptions{LoopbackOnly: true})
		if err != nil {
			t.Fatal(err)
		}
		pc, err := api.NewPeerConnection(webrtc.Configuration{})
		if err != nil {
			t.Fatal(err)
		}
		defer pc.Close()
		if _, err := pc.AddTransceiverFromKind(webrtc.RTPCodecTypeVideo, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly}); err != nil {
			t.Fatal(err)
		}
		offer, err := pc.CreateOffer(nil)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(protocol.Message{Type: protocol.TypeOffer, PC: protocol.PCPublish, SDP: offer.SDP})
		r.send(string(b))
		_ = r.conn.CloseNow() // gone before reading the answer
		waitFor(t, 5*time.Second, "the server to forget the vanished client", func() bool {
			return srv.Signaling.Clients() == stayers
		})
	})

	// Through all of it the room's media kept flowing without loss.
	time.Sleep(time.Second)
	end := time.Now()
	time.Sleep(300 * time.Millisecond)
	w := videoWindow(watcher, start, end)
	t.Logf("watcher during the bad input: %d video packets, %d lost", w.packets, w.lost)
	if w.packets == 0 || w.lost != 0 {
		t.Fatalf("the watcher's media suffered: %d packets, %d lost", w.packets, w.lost)
	}
	if got := videoWindow(watcher, end, time.Now()); got.packets == 0 {
		t.Fatal("media stopped after the bad input")
	}
}

// A client that connects and never joins is told and dropped.
func TestJoinTimeout(t *testing.T) {
	srv := testenv.StartServer(t, testenv.Options{JoinTimeout: 200 * time.Millisecond})
	r := dialRaw(t, srv)
	r.expectError(protocol.CodeNotJoined, "no join within")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if _, _, err := r.conn.Read(ctx); websocket.CloseStatus(err) != websocket.StatusNormalClosure {
		t.Fatalf("after the error: %v, want the server to close the connection", err)
	}
	waitFor(t, 3*time.Second, "the server to drop the idle client", func() bool { return srv.Signaling.Clients() == 0 })
}
