package main

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/webrtc/v4"
	"go.uber.org/zap"

	"github.com/prismsfu/prism/signaling/client"
)

// participant is one simulated client: a publisher, a subscriber, or in
// conference mode both. This file is the only one that talks to the
// signaling client library.
type participant struct {
	idx        int
	name       string
	room       int
	publishes  bool
	subscribes bool
	st         *stats

	ctx    context.Context // ends when the participant leaves
	cancel context.CancelFunc
	wg     sync.WaitGroup // sending and RTCP goroutines

	mu        sync.Mutex
	id        string // the server's participant id, once joined
	cl        *client.Client
	connectAt time.Time
	recv      map[*pubTrack]*recvTrack
	pubs      []*pubTrack
	forceKey  map[string]func() // by track id: makes the track's next frame a keyframe
}

func (p *participant) serverID() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.id
}

// newBotAPI returns the pion API every bot client uses: the client
// library's codecs and interceptors, with the RTCP counter first in line
// and any extra interceptors (tests inject loss with one) after it.
func newBotAPI(cfg *config, st *stats, extra func(*interceptor.Registry) error) (*webrtc.API, error) {
	return client.NewAPI(client.APIOptions{
		LoopbackOnly: cfg.loopbackOnly(),
		Interceptors: func(r *interceptor.Registry) error {
			r.Add(rtcpCounterFactory{st: st})
			if extra != nil {
				return extra(r)
			}
			return nil
		},
	})
}

// join connects p to its room. Its join time runs from here to the first
// packet of each track it expects (see collect.go).
func (p *participant) join(ctx context.Context, cfg *config, api *webrtc.API, log *zap.Logger) error {
	p.mu.Lock()
	p.recv = make(map[*pubTrack]*recvTrack)
	p.forceKey = make(map[string]func())
	p.connectAt = time.Now()
	p.mu.Unlock()

	p.ctx, p.cancel = context.WithCancel(context.Background())
	cl, err := client.Join(ctx, client.Config{
		URL:    cfg.URL,
		Room:   cfg.roomName(p.room),
		Name:   p.name,
		Token:  cfg.Token,
		API:    api,
		Logger: log.With(zap.String("bot", p.name)),
		OnTrack: func(t *client.RemoteTrack) {
			p.onTrack(t.TrackRemote, t.ParticipantID)
		},
		OnKeyframeRequest: p.keyframeRequested,
	})
	if err != nil {
		p.cancel()
		return err
	}
	p.mu.Lock()
	p.cl = cl
	p.id = cl.ID()
	p.mu.Unlock()
	if p.publishes {
		if err := p.startPublishing(ctx, cfg); err != nil {
			return err
		}
		if err := p.waitMediaFlowing(ctx); err != nil {
			return err
		}
	}
	return nil
}

// waitMediaFlowing returns once p's publish connection is connected (ICE
// and DTLS done) and every track p publishes has been bound to it and has
// written a packet; the tracks are then live. Until then the publisher's
// writes go nowhere (pion binds an offerer's senders before the transport
// is up and drops what they write until SRTP is ready), and subscribers
// joining meanwhile would count the publisher's own setup as their join
// time; in fan-out mode they join only after this.
func (p *participant) waitMediaFlowing(ctx context.Context) error {
	p.mu.Lock()
	pc := p.cl.PublishConnection()
	pubs := append([]*pubTrack(nil), p.pubs...)
	p.mu.Unlock()
	for {
		bound := 0
		for _, pt := range pubs {
			if pt.bound.Load() {
				bound++
			}
		}
		if bound == len(pubs) && pc.ConnectionState() == webrtc.PeerConnectionStateConnected {
			// The next packet of each track now leaves; the slowest
			// (audio) comes within 20 ms.
			sleepCtx(ctx, 25*time.Millisecond)
			now := time.Now()
			for _, pt := range pubs {
				pt.liveAt.Store(now.UnixNano())
				pt.live.Store(true)
			}
			return ctx.Err()
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("publish connection is %s, %d of %d tracks bound: %w",
				pc.ConnectionState(), bound, len(pubs), ctx.Err())
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// publish sends track to the room and returns the SSRC it is sent with.
// The client library reads the sender's RTCP itself and reports keyframe
// requests to keyframeRequested.
func (p *participant) publish(track webrtc.TrackLocal, source string) (uint32, error) {
	p.mu.Lock()
	cl := p.cl
	p.mu.Unlock()
	if cl == nil {
		return 0, fmt.Errorf("not joined")
	}
	sender, err := cl.Publish(track, source)
	if err != nil {
		return 0, err
	}
	if enc := sender.GetParameters().Encodings; len(enc) > 0 {
		return uint32(enc[0].SSRC), nil
	}
	return 0, fmt.Errorf("sender has no encoding")
}

// subscribeState returns the state of p's subscribe connection, for the
// report on a track that never arrived.
func (p *participant) subscribeState() string {
	p.mu.Lock()
	cl := p.cl
	p.mu.Unlock()
	if cl == nil || cl.SubscribeConnection() == nil {
		return "none"
	}
	return cl.SubscribeConnection().ConnectionState().String()
}

// leave stops p's senders and closes its client.
func (p *participant) leave() error {
	if p.cancel != nil {
		p.cancel()
	}
	p.mu.Lock()
	cl := p.cl
	p.mu.Unlock()
	var err error
	if cl != nil {
		err = cl.Close()
	}
	p.wg.Wait()
	return err
}

// expects reports whether p should receive pt.
func (p *participant) expects(pt *pubTrack) bool {
	return p.subscribes && pt.owner != p && pt.owner.room == p.room
}
