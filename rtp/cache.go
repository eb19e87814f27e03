package rtp

import (
	"sync"
	"time"
)

// MaxPacketSize is the largest RTP packet, in bytes, that the cache stores.
const MaxPacketSize = 1500

// Cache keeps the most recent packets of one published stream, each with
// its Meta, indexed by extended sequence number. One cache serves every
// subscriber of the stream: NACKs are answered from it and new subscribers
// replay the last keyframe from it, so no subscriber holds a copy of any
// packet.
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
	meta Meta
	buf  [MaxPacketSize]byte
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

// Put stores a copy of pkt and its Meta m under m.Ext. A packet too old to
// fit, larger than MaxPacketSize, or already stored (a duplicate) is not
// stored; Put reports whether it was. A duplicate never replaces the first
// copy, whose flags may say more (a keyframe's start is marked only once).
func (c *Cache) Put(pkt []byte, m *Meta) bool {
	ext := m.Ext
	if len(pkt) > MaxPacketSize || ext == 0 {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.highest >= uint64(len(c.slots)) && ext <= c.highest-uint64(len(c.slots)) {
		return false
	}
	s := &c.slots[ext&c.mask]
	if s.meta.Ext == ext {
		return false
	}
	s.meta = *m
	copy(s.buf[:], pkt)
	if ext > c.highest {
		c.highest = ext
	}
	if m.Flags&FlagKeyframe != 0 && ext > c.keyframe {
		c.keyframe = ext
	}
	return true
}

// Get copies the packet stored under ext into dst and its Meta into m,
// and returns the packet's length; ok is false when the packet is not (or
// no longer) cached or dst is too small. With a nil dst only m is filled.
func (c *Cache) Get(ext uint64, dst []byte, m *Meta) (n int, ok bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	s := &c.slots[ext&c.mask]
	if s.meta.Ext != ext || ext == 0 {
		return 0, false
	}
	*m = s.meta
	if dst == nil {
		return 0, true
	}
	if int(s.meta.Size) > len(dst) {
		return 0, false
	}
	return copy(dst, s.buf[:s.meta.Size]), true
}

// Age returns how long ago the packet stored under ext arrived, or false
// when it is not cached.
func (c *Cache) Age(ext uint64) (time.Duration, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	s := &c.slots[ext&c.mask]
	if s.meta.Ext != ext || ext == 0 {
		return 0, false
	}
	return time.Duration(time.Now().UnixNano() - s.meta.Arrival), true
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
	if s.meta.Ext != c.keyframe {
		return 0, 0, false
	}
	return c.keyframe, c.highest, true
}
