package rtp

import "testing"

func TestSeqLess(t *testing.T) {
	cases := []struct {
		a, b uint16
		want bool
	}{
		{1, 2, true}, {2, 1, false}, {5, 5, false},
		{65535, 0, true}, {0, 65535, false},
		{65000, 100, true}, {100, 65000, false},
	}
	for _, c := range cases {
		if got := SeqLess(c.a, c.b); got != c.want {
			t.Errorf("SeqLess(%d, %d) = %v, want %v", c.a, c.b, got, c.want)
		}
	}
}

func TestUnwrapperAcrossWrapAndReorder(t *testing.T) {
	var u Unwrapper
	first := u.Unwrap(65530)
	var prev uint64 = first
	for i := 1; i < 20; i++ {
		got := u.Unwrap(uint16(65530 + i))
		if got != prev+1 {
			t.Fatalf("packet %d: extended %d, want %d", i, got, prev+1)
		}
		prev = got
	}
	// A late packet from before the wrap gets its old number back.
	if got := u.Unwrap(65531); got != first+1 {
		t.Fatalf("late packet: extended %d, want %d", got, first+1)
	}
	if u.Highest() != prev {
		t.Fatalf("Highest = %d, want %d", u.Highest(), prev)
	}
	// A packet from just before the first one still gets a positive number.
	var v Unwrapper
	a := v.Unwrap(3)
	if b := v.Unwrap(65534); b != a-5 {
		t.Fatalf("packet before the first: %d, want %d", b, a-5)
	}
}
