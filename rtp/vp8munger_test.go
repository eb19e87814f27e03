package rtp

import "testing"

func desc(pid uint16, tl0, key uint8) VP8Descriptor {
	return VP8Descriptor{HasPictureID: true, LongID: true, PictureID: pid, HasTL0PICIDX: true, TL0PICIDX: tl0, HasKeyIdx: true, KeyIdx: key}
}

// The first stream keeps its own numbers; a switch to a stream that counts
// elsewhere continues where the first left off; dropped pictures leave no
// gap; and late packets of a picture get the same number as the others.
func TestVP8MungerContinuity(t *testing.T) {
	var m VP8Munger
	munge := func(d VP8Descriptor) VP8Descriptor { m.Munge(&d); return d }

	first := desc(0x7ffe, 254, 30)
	m.Switch(&first)
	if got := munge(first); got.PictureID != 0x7ffe || got.TL0PICIDX != 254 || got.KeyIdx != 30 {
		t.Fatalf("first stream was renumbered: %+v", got)
	}
	if got := munge(desc(0x7fff, 255, 30)); got.PictureID != 0x7fff {
		t.Fatalf("pid %d", got.PictureID)
	}
	// Picture 0 (after the wrap) is dropped; picture 1 takes its number.
	dropped := desc(0, 255, 30)
	m.Drop(&dropped)
	if !m.Dropped(&dropped) {
		t.Fatal("dropped picture not remembered")
	}
	if got := munge(desc(1, 0, 30)); got.PictureID != 0 || got.TL0PICIDX != 0 {
		t.Fatalf("after a drop: pid %d tl0 %d, want 0 0", got.PictureID, got.TL0PICIDX)
	}
	// A second packet of picture 1 gets the same number.
	if got := munge(desc(1, 0, 30)); got.PictureID != 0 {
		t.Fatalf("second packet of a picture: pid %d", got.PictureID)
	}

	// Switch to another stream counting from 500 / 17 / 2.
	other := desc(500, 17, 2)
	m.Switch(&other)
	if got := munge(other); got.PictureID != 1 || got.TL0PICIDX != 1 || got.KeyIdx != 31 {
		t.Fatalf("after the switch: %+v, want pid 1 tl0 1 keyidx 31", got)
	}
	if got := munge(desc(501, 18, 2)); got.PictureID != 2 || got.TL0PICIDX != 2 {
		t.Fatalf("next picture: %+v", got)
	}
}

func TestSeqLess15(t *testing.T) {
	for _, c := range []struct {
		a, b uint16
		want bool
	}{{1, 2, true}, {2, 1, false}, {0x7fff, 0, true}, {0, 0x7fff, false}, {3, 3, false}} {
		if got := SeqLess15(c.a, c.b); got != c.want {
			t.Errorf("SeqLess15(%d, %d) = %v", c.a, c.b, got)
		}
	}
}
