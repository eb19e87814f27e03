package rtp

import (
	"bytes"
	"testing"
	"time"
)

// put stores pkt under ext with flags, as the receiver does.
func put(c *Cache, ext uint64, pkt []byte, flags Flags) bool {
	m := Meta{Ext: ext, Size: uint16(len(pkt)), Flags: flags, Arrival: time.Now().UnixNano()}
	return c.Put(pkt, &m)
}

func TestCacheStoresAndForgets(t *testing.T) {
	c := NewCache(100)
	if c.Size() != 128 {
		t.Fatalf("size %d, want 128", c.Size())
	}
	buf := make([]byte, MaxPacketSize)
	var m Meta
	for ext := uint64(1000); ext < 1000+300; ext++ {
		if !put(c, ext, []byte{byte(ext), byte(ext >> 8), 7}, 0) {
			t.Fatalf("Put(%d) refused", ext)
		}
	}
	// The newest 128 are there, byte for byte, with their Meta.
	for ext := uint64(1300 - 128); ext < 1300; ext++ {
		n, ok := c.Get(ext, buf, &m)
		if !ok || !bytes.Equal(buf[:n], []byte{byte(ext), byte(ext >> 8), 7}) || m.Ext != ext || m.Size != 3 {
			t.Fatalf("Get(%d) = %v %x %+v", ext, ok, buf[:n], m)
		}
	}
	// Older ones are gone, and a late packet that old is not stored over a newer one.
	if _, ok := c.Get(1000, buf, &m); ok {
		t.Fatal("evicted packet still returned")
	}
	if put(c, 1100, []byte{1}, 0) {
		t.Fatal("packet older than the cache window was stored")
	}
	if _, ok := c.Get(1100+128, buf, &m); !ok {
		t.Fatal("late packet overwrote a newer one")
	}
	if put(c, 2000, make([]byte, MaxPacketSize+1), 0) {
		t.Fatal("oversized packet stored")
	}
	// Meta alone, without the bytes.
	if _, ok := c.Get(1299, nil, &m); !ok || m.Ext != 1299 {
		t.Fatalf("Get meta only: %v %+v", ok, m)
	}
}

// A duplicate of a cached packet is refused and leaves the first copy, its
// flags included, in place. Before this rule a duplicated first packet of
// a keyframe (which the parser marks only once) erased FlagKeyframe, and
// keyframe replay to new subscribers failed.
func TestCacheIgnoresDuplicates(t *testing.T) {
	c := NewCache(16)
	if !put(c, 10, []byte{1, 2, 3}, FlagKeyframe) {
		t.Fatal("first copy refused")
	}
	if put(c, 10, []byte{9, 9}, 0) {
		t.Fatal("duplicate stored")
	}
	var m Meta
	buf := make([]byte, MaxPacketSize)
	n, ok := c.Get(10, buf, &m)
	if !ok || m.Flags&FlagKeyframe == 0 || !bytes.Equal(buf[:n], []byte{1, 2, 3}) {
		t.Fatalf("after a duplicate: %v flags %v bytes %x", ok, m.Flags, buf[:n])
	}
	if first, _, ok := c.LastKeyframe(); !ok || first != 10 {
		t.Fatalf("LastKeyframe = %d %v after a duplicate", first, ok)
	}
}

func TestCacheLastKeyframe(t *testing.T) {
	c := NewCache(16)
	if _, _, ok := c.LastKeyframe(); ok {
		t.Fatal("empty cache reports a keyframe")
	}
	put(c, 10, []byte{1}, FlagKeyframe)
	put(c, 11, []byte{2}, FlagMarker)
	put(c, 12, []byte{3}, 0)
	first, highest, ok := c.LastKeyframe()
	if !ok || first != 10 || highest != 12 {
		t.Fatalf("LastKeyframe = %d %d %v, want 10 12 true", first, highest, ok)
	}
	for ext := uint64(13); ext < 40; ext++ {
		put(c, ext, []byte{4}, 0)
	}
	if _, _, ok := c.LastKeyframe(); ok {
		t.Fatal("keyframe reported after it left the cache")
	}
	var m Meta
	if _, ok := c.Get(39, make([]byte, 10), &m); !ok || m.Flags != 0 {
		t.Fatalf("flags %v", m.Flags)
	}
}

func TestCacheAge(t *testing.T) {
	c := NewCache(4)
	put(c, 100, []byte{1}, 0)
	time.Sleep(20 * time.Millisecond)
	age, ok := c.Age(100)
	if !ok || age < 20*time.Millisecond || age > 5*time.Second {
		t.Fatalf("Age = %v %v, want about 20ms", age, ok)
	}
	if _, ok := c.Age(101); ok {
		t.Fatal("Age of a packet never stored")
	}
}

func BenchmarkCachePutGet(b *testing.B) {
	c := NewCache(512)
	pkt := make([]byte, 1200)
	dst := make([]byte, MaxPacketSize)
	var m, got Meta
	m.Size = uint16(len(pkt))
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		m.Ext = uint64(i + 1)
		c.Put(pkt, &m)
		c.Get(m.Ext, dst, &got)
	}
}
