package rtp

import (
	"sync"
	"time"
)

// MaxPacketSize is the largest RTP packet, in bytes, that the cache stores.
const MaxPacketSize = 1500

// Flags describe a cached packet for the forwarding path.
type Flags uint8

const (
	// FlagKeyframe marks the first packet of a keyframe: a subscriber's
	// decoder can start there.
	FlagKeyframe Flags = 1 << iota
	// FlagMarker marks a packet with the RTP marker bit (for video, the last
	// packet of a frame).
	FlagMarker
)

// Cache keeps the most recent packets of one published stream, indexed by
// extended sequence number. One cache serves every subscriber of the
// stream: NACKs are answered from it and new subscribers replay the last
// keyframe from it, so no subscriber holds a copy of any packet.
//
// A Cache is safe for one writer and any number of readers at once.
type Cache struct {
	mu      sync.RWMutex
	slots   []slot
	mask    uint64
	highest uint64
	// keyframe is the extended sequence number of the newest packet marked
	// FlagKeyframe; 0 when there is none.
	keyframe uint64
}

type slot struct {
	ext   uint64
	at    int64 // arrival, Unix nanoseconds
	n     uint16
	flags Flags
	buf   [MaxPacketSize]byte
}

// NewCache returns a cache of at least size packets, rounded up to a power
// of two. Its memory is about size × 1.5 KB, allocated once.
func NewCache(size int) *Cache {
	n := 1
	for n < size {
		n <<= 1
	}
	return &Cache{slots: make([]slot, n), mask: uint64(n - 1)}
}

// Size returns the number of packets the cache holds.
func (c *Cache) Size() int { return len(c.slots) }

// Put stores a copy of pkt under the extended sequence number ext. A packet
// too old to fit, or larger than MaxPacketSize, is not stored; Put reports
// whether it was.
func (c *Cache) Put(ext uint64, pkt []byte, flags Flags) bool {
	if len(pkt) > MaxPacketSize || ext == 0 {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.highest >= uint64(len(c.slots)) && ext <= c.highest-uint64(len(c.slots)) {
		return false
	}
	s := &c.slots[ext&c.mask]
	s.ext = ext
	s.at = time.Now().UnixNano()
	s.n = uint16(copy(s.buf[:], pkt))
	s.flags = flags
	if ext > c.highest {
		c.highest = ext
	}
	if flags&FlagKeyframe != 0 && ext > c.keyframe {
		c.keyframe = ext
	}
	return true
}

// Get copies the packet stored under ext into dst and returns its length
// and flags; ok is false when the packet is not (or no longer) cached or
// dst is too small.
func (c *Cache) Get(ext uint64, dst []byte) (n int, flags Flags, ok bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	s := &c.slots[ext&c.mask]
	if s.ext != ext || s.n == 0 || int(s.n) > len(dst) {
		return 0, 0, false
	}
	return copy(dst, s.buf[:s.n]), s.flags, true
}

// Age returns how long ago the packet stored under ext arrived, or false
// when it is not cached.
func (c *Cache) Age(ext uint64) (time.Duration, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	s := &c.slots[ext&c.mask]
	if s.ext != ext || s.n == 0 {
		return 0, false
	}
	return time.Duration(time.Now().UnixNano() - s.at), true
}

// Highest returns the highest extended sequence number stored, 0 if none.
func (c *Cache) Highest() uint64 {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.highest
}

// LastKeyframe returns the extended sequence number of the first packet of
// the newest keyframe, and the highest stored, when that keyframe is still
// in the cache. A subscriber that replays first..highest can start decoding
// at once.
func (c *Cache) LastKeyframe() (first, highest uint64, ok bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.keyframe == 0 {
		return 0, 0, false
	}
	s := &c.slots[c.keyframe&c.mask]
	if s.ext != c.keyframe {
		return 0, 0, false
	}
	return c.keyframe, c.highest, true
}
