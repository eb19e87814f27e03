package rtp

import "testing"

func TestDDDecodeTargetLayers(t *testing.T) {
	chrome := *ddParse(t, ddHex(t, ddChromeL3T3), nil).Structure
	cases := []struct {
		name string
		s    DDStructure
		want [][2]uint8 // spatial, temporal of each decode target
	}{
		{"L1T3", ddL1T3(), [][2]uint8{{0, 2}, {0, 1}, {0, 0}}},
		{"L3T3", ddL3T3(), [][2]uint8{{2, 2}, {2, 1}, {2, 0}, {1, 2}, {1, 1}, {1, 0}, {0, 2}, {0, 1}, {0, 0}}},
		{"L3T3_KEY", ddL3T3Key(), [][2]uint8{{0, 0}, {0, 1}, {0, 2}, {1, 0}, {1, 1}, {1, 2}, {2, 0}, {2, 1}, {2, 2}}},
		{"Chrome L3T3", chrome, [][2]uint8{{0, 0}, {0, 1}, {0, 2}, {1, 0}, {1, 1}, {1, 2}, {2, 0}, {2, 1}, {2, 2}}},
	}
	for _, tc := range cases {
		for i, want := range tc.want {
			if sp, tl, ok := tc.s.DecodeTargetLayer(i); !ok || [2]uint8{sp, tl} != want {
				t.Fatalf("%s decode target %d: S%d T%d %v, want %v", tc.name, i, sp, tl, ok, want)
			}
		}
		for _, i := range []int{-1, len(tc.want), 40} {
			if _, _, ok := tc.s.DecodeTargetLayer(i); ok {
				t.Fatalf("%s decode target %d exists", tc.name, i)
			}
		}
	}
	var none DDStructure
	none.NumDecodeTargets, none.NumTemplates = 2, 1
	none.Templates[0].DTIs = ddDTIs("S-")
	if _, _, ok := none.DecodeTargetLayer(1); ok {
		t.Fatal("a decode target no template is part of has layers")
	}
}

func TestDDDecodeTargetsUpTo(t *testing.T) {
	l1t3, l3t3, key := ddL1T3(), ddL3T3(), ddL3T3Key()
	cases := []struct {
		name   string
		s      *DDStructure
		sp, tl uint8
		want   uint32
	}{
		{"L1T3 all", &l1t3, 0, 2, 0b111},
		{"L1T3 15 fps", &l1t3, 0, 1, 0b110},
		{"L1T3 7.5 fps", &l1t3, 3, 0, 0b100},
		{"L3T3 VGA 15 fps", &l3t3, 1, 1, 1<<4 | 1<<5 | 1<<7 | 1<<8},
		{"L3T3 all", &l3t3, 7, 7, 0x1ff},
		{"L3T3_KEY QVGA", &key, 0, 2, 0b111},
		{"L3T3_KEY HD 7.5 fps", &key, 2, 0, 1<<0 | 1<<3 | 1<<6},
	}
	for _, tc := range cases {
		if got := tc.s.DecodeTargetsUpTo(tc.sp, tc.tl); got != tc.want {
			t.Fatalf("%s: %b, want %b", tc.name, got, tc.want)
		}
	}
}

// A down-track forwards exactly the frames its decode targets need: in
// K-SVC, a receiver of the top spatial layer gets the key frames of the
// lower ones and none of their other frames.
func TestDDInDecodeTargets(t *testing.T) {
	key := ddL3T3Key()
	l1t3 := ddL1T3()
	cases := []struct {
		name string
		s    *DDStructure
		mask uint32
		want []bool // per template
	}{
		{"L3T3_KEY S2 T2", &key, 1 << 8, []bool{true, false, false, false, false, true, false, false, false, false, true, true, true, true, true}},
		{"L3T3_KEY S2 T0", &key, 1 << 6, []bool{true, false, false, false, false, true, false, false, false, false, true, true, false, false, false}},
		{"L3T3_KEY S0 T1", &key, 1 << 1, []bool{true, true, true, false, false, false, false, false, false, false, false, false, false, false, false}},
		{"L1T3 15 fps", &l1t3, l1t3.DecodeTargetsUpTo(0, 1), []bool{true, true, true, false, false}},
		{"nothing", &l1t3, 0, []bool{false, false, false, false, false}},
	}
	for _, tc := range cases {
		for i, want := range tc.want {
			d := ddParse(t, []byte{uint8(int(tc.s.TemplateIDOffset)+i) % MaxDDTemplates, 0, 1}, tc.s)
			if got := d.InDecodeTargets(tc.mask); got != want {
				t.Fatalf("%s template %d: %v, want %v", tc.name, i, got, want)
			}
		}
	}
}

func TestDTIs(t *testing.T) {
	x := uint64(0x9e3779b97f4a7c15)
	for range 1000 {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		v := DTIs(x)
		var want uint32
		for i := range MaxDDDecodeTargets {
			if v.At(i) != DTINotPresent {
				want |= 1 << i
			}
		}
		if got := v.Targets(); got != want {
			t.Fatalf("Targets of %016x: %08x, want %08x", x, got, want)
		}
	}
	var v DTIs
	v.Set(31, DTIRequired)
	v.Set(0, DTISwitch)
	v.Set(0, DTIDiscardable)
	v.Set(-1, DTIRequired)
	v.Set(32, DTIRequired)
	if v != DTIs(3)<<62|1 || v.At(-1) != DTINotPresent || v.At(32) != DTINotPresent || v.At(31) != DTIRequired {
		t.Fatalf("DTIs %016x", uint64(v))
	}
}
