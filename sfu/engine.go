package sfu

import (
	"fmt"
	"net"
	"runtime"
	"sync"

	"go.uber.org/zap"
)

// Engine forwards every published packet to every subscriber. It is a
// fixed pool of workers, about one per core; each owns a shard of the
// subscriber transports and, with them, their down-tracks. A stream's read
// loop wakes each worker that has a subscriber of the stream's track once
// per packet, not once per subscriber; the worker then writes the packet
// to each of its subscribers in turn, batching the sends.
//
// No worker ever waits for a subscriber: a send that cannot go out at once
// (a full socket, a full writer queue of a TCP or pion route) is a drop
// for that one subscriber.
type Engine struct {
	workers []*worker
	quit    chan struct{}
	wg      sync.WaitGroup

	mu sync.Mutex // serialises assign
}

// engineConfig sizes an engine.
type engineConfig struct {
	workers int
	batch   int
	conn    net.PacketConn
	log     *zap.Logger
}

func newEngine(c engineConfig) (*Engine, error) {
	if c.workers <= 0 {
		c.workers = runtime.GOMAXPROCS(0)
	}
	if c.batch <= 0 {
		c.batch = defaultBatch
	}
	e := &Engine{quit: make(chan struct{})}
	for i := range c.workers {
		b, err := newBatch(c.conn, c.batch)
		if err != nil {
			e.close()
			return nil, fmt.Errorf("worker %d: %w", i, err)
		}
		w := newWorker(i, b, e.quit, c.log.With(zap.Int("worker", i)))
		e.workers = append(e.workers, w)
		e.wg.Add(1)
		go func() {
			defer e.wg.Done()
			w.run()
		}()
	}
	return e, nil
}

// Workers returns the number of workers.
func (e *Engine) Workers() int { return len(e.workers) }

// dispatch tells every worker with a subscriber of t that packet ext of
// stream si is in the cache; late is set when it arrived after a newer one
// (reordered, or repaired upstream). A worker whose queue is full misses
// the news; its down-tracks catch up from the cache with the next packet.
func (e *Engine) dispatch(t *Track, si uint8, ext uint64, late bool) {
	for i, w := range e.workers {
		if t.shards[i].n.Load() == 0 {
			continue
		}
		select {
		case w.jobs <- job{track: t, stream: si, ext: ext, late: late}:
		default:
			w.missed.Add(1)
		}
	}
}

// assign returns the worker with the fewest transports, for a new one.
func (e *Engine) assign() *worker {
	e.mu.Lock()
	defer e.mu.Unlock()
	best := e.workers[0]
	for _, w := range e.workers[1:] {
		if w.load.Load() < best.load.Load() {
			best = w
		}
	}
	best.load.Add(1)
	return best
}

// close stops every worker and waits for them. Every transport must be
// closed first.
func (e *Engine) close() {
	close(e.quit)
	e.wg.Wait()
}
