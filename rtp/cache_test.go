package rtp

import (
	"bytes"
	"testing"
	"time"
)

func TestCacheStoresAndForgets(t *testing.T) {
	c := NewCache(100)
	if c.Size() != 128 {
		t.Fatalf("size %d, want 128", c.Size())
	}
	buf := make([]byte, MaxPacketSize)
	for ext := uint64(1000); ext < 1000+300; ext++ {
		pkt := []byte{byte(ext), byte(ext >> 8), 7}
		if !c.Put(ext, pkt, 0) {
			t.Fatalf("Put(%d) refused", ext)
		}
	}
	// The newest 128 are there, byte for byte.
	for ext := uint64(1300 - 128); ext < 1300; ext++ {
		n, _, ok := c.Get(ext, buf)
		if !ok || !bytes.Equal(buf[:n], []byte{byte(ext), byte(ext >> 8), 7}) {
			t.Fatalf("Get(%d) = %v %x", ext, ok, buf[:n])
		}
	}
	// Older ones are gone, and a late packet that old is not stored over a newer one.
	if _, _, ok := c.Get(1000, buf); ok {
		t.Fatal("evicted packet still returned")
	}
	if c.Put(1100, []byte{1}, 0) {
		t.Fatal("packet older than the cache window was stored")
	}
	if _, _, ok := c.Get(1100+128, buf); !ok {
		t.Fatal("late packet overwrote a newer one")
	}
	if c.Put(2000, make([]byte, MaxPacketSize+1), 0) {
		t.Fatal("oversized packet stored")
	}
}

func TestCacheLastKeyframe(t *testing.T) {
	c := NewCache(16)
	if _, _, ok := c.LastKeyframe(); ok {
		t.Fatal("empty cache reports a keyframe")
	}
	c.Put(10, []byte{1}, FlagKeyframe)
	c.Put(11, []byte{2}, FlagMarker)
	c.Put(12, []byte{3}, 0)
	first, highest, ok := c.LastKeyframe()
	if !ok || first != 10 || highest != 12 {
		t.Fatalf("LastKeyframe = %d %d %v, want 10 12 true", first, highest, ok)
	}
	for ext := uint64(13); ext < 40; ext++ {
		c.Put(ext, []byte{4}, 0)
	}
	if _, _, ok := c.LastKeyframe(); ok {
		t.Fatal("keyframe reported after it left the cache")
	}
	_, flags, _ := c.Get(39, make([]byte, 10))
	if flags != 0 {
		t.Fatalf("flags %v", flags)
	}
}

func BenchmarkCachePutGet(b *testing.B) {
	c := NewCache(512)
	pkt := make([]byte, 1200)
	dst := make([]byte, MaxPacketSize)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		ext := uint64(i + 1)
		c.Put(ext, pkt, 0)
		c.Get(ext, dst)
	}
}

func TestCacheAge(t *testing.T) {
	c := NewCache(4)
	c.Put(100, []byte{1}, 0)
	time.Sleep(20 * time.Millisecond)
	age, ok := c.Age(100)
	if !ok || age < 20*time.Millisecond || age > 5*time.Second {
		t.Fatalf("Age = %v %v, want about 20ms", age, ok)
	}
	if _, ok := c.Age(101); ok {
		t.Fatal("Age of a packet never stored")
	}
}
