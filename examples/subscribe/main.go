// Command subscribe joins a Prism room, receives every track published
// there and prints, once a second, each track's packets and bitrate.
//
//	go run ./examples/subscribe -url ws://localhost:8800/ws -room demo
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prismsfu/prism/signaling/client"
	"github.com/prismsfu/prism/signaling/protocol"
)

// counter is one track's running totals.
type counter struct {
	label            string
	packets, bytes   atomic.Uint64
	lastPkts, lastBy uint64
}

func main() {
	url := flag.String("url", "ws://localhost:8800/ws", "Prism's WebSocket URL")
	room := flag.String("room", "demo", "room to join")
	name := flag.String("name", "subscriber", "display name")
	loopback := flag.Bool("loopback", false, "use only 127.0.0.1 for ICE")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, *url, *room, *name, *loopback); err != nil {
		fmt.Fprintln(os.Stderr, "subscribe:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, url, room, name string, loopback bool) error {
	api, err := client.NewAPI(client.APIOptions{LoopbackOnly: loopback})
	if err != nil {
		return err
	}
	var mu sync.Mutex
	tracks := map[string]*counter{}
	c, err := client.Join(ctx, client.Config{
		URL: url, Room: room, Name: name, API: api,
		OnParticipantJoined: func(p protocol.Participant) { fmt.Printf("+ %s (%s) joined\n", p.Name, p.ID) },
		OnParticipantLeft:   func(id string) { fmt.Printf("- %s left\n", id) },
		OnTrack: func(t *client.RemoteTrack) {
			key := t.ParticipantID + "/" + t.ID()
			ctr := &counter{label: fmt.Sprintf("%s %s (%s)", key, t.Codec().MimeType, t.Info.Source)}
			mu.Lock()
			tracks[key] = ctr
			mu.Unlock()
			buf := make([]byte, 1500)
			for {
				n, _, err := t.Read(buf)
				if err != nil {
					mu.Lock()
					delete(tracks, key)
					mu.Unlock()
					return
				}
				ctr.packets.Add(1)
				ctr.bytes.Add(uint64(n))
			}
		},
	})
	if err != nil {
		return err
	}
	defer c.Close()
	fmt.Printf("joined %s as %s (%s)\n", room, name, c.ID())
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-c.Done():
			return fmt.Errorf("session ended: %w", c.Err())
		case <-tick.C:
			mu.Lock()
			keys := make([]string, 0, len(tracks))
			for k := range tracks {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				ctr := tracks[k]
				p, b := ctr.packets.Load(), ctr.bytes.Load()
				fmt.Printf("%-60s %7d pkts %6d pkt/s %8.0f kbit/s\n", ctr.label, p, p-ctr.lastPkts, float64(b-ctr.lastBy)*8/1000)
				ctr.lastPkts, ctr.lastBy = p, b
			}
			mu.Unlock()
		}
	}
}
