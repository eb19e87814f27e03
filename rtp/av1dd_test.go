package rtp

import (
	"bytes"
	"errors"
	"testing"
)

// Byte-exact vectors for L1T3 (ddL1T3), assembled by hand from the field
// layout of Appendix A.4.1; each comment gives the fields' bits in order.
const (
	// 1 0 000000 | frame 1 | flags 10000 | offset 000000 | dtis_cnt-1 00010 |
	// next_layer_idc 00 01 01 00 11 | DTIs 101010 101010 100100 010000 010000 |
	// fdiffs 0, 1 0011 0, 1 0001 0, 1 0000 0, 1 0000 0 | chains_cnt ns(4)=1: 01 |
	// (protected_by ns(1): no bits) | chain diffs 0000 0100 0010 0001 0011 |
	// resolutions 1, 639 (16 bits), 359 (16 bits).
	ddL1T3Key = "800001800214eaaa44104d1410208427027f0167"
	// 1 1 000011 | frame 4: template 3 (S0 T2), mandatory fields only.
	ddL1T3T2 = "c30004"
	// 1 0 000010 | frame 3 | flags 01000 | mask f(3) = 011: the 15 and 7.5
	// fps decode targets.
	ddL1T3Mask = "82000343"
	// 1 1 000001 | frame 9 | flags 00111 | DTIs 11 11 11 | fdiff 8: size 01,
	// 0111 | fdiff 300: size 11, 000100101011 | 00 | chain diff f(8) = 8.
	ddL1T3Custom = "c100093febe2560400"
)

func TestDDVectorsL1T3(t *testing.T) {
	s := ddL1T3()
	s.HasResolutions, s.Resolutions[0] = true, DDResolution{640, 360}

	key := ddParse(t, ddHex(t, ddL1T3Key), nil)
	if !key.HasStructure || *key.Structure != s {
		t.Fatalf("structure:\n got %+v\nwant %+v", key.Structure, s)
	}
	want := DependencyDescriptor{StartOfFrame: true, FrameNumber: 1, HasStructure: true, ActiveDecodeTargets: 0b111,
		NumDecodeTargets: 3, NumChains: 1, DTIs: ddDTIs("SSS"), Width: 640, Height: 360, Structure: key.Structure}
	ddCheck(t, "key", &key, &want)

	cases := []struct {
		name string
		hex  string
		want DependencyDescriptor
	}{
		{"mandatory", ddL1T3T2, DependencyDescriptor{StartOfFrame: true, EndOfFrame: true, TemplateID: 3, FrameNumber: 4,
			Temporal: 2, NumDecodeTargets: 3, NumChains: 1, DTIs: ddDTIs("D--"),
			NumFdiffs: 1, Fdiffs: [MaxDDFdiffs]uint16{1}, ChainDiffs: [MaxDDChains]uint8{1}, Width: 640, Height: 360}},
		{"mask", ddL1T3Mask, DependencyDescriptor{StartOfFrame: true, TemplateID: 2, FrameNumber: 3,
			HasActiveDecodeTargets: true, ActiveDecodeTargets: 0b011,
			Temporal: 1, NumDecodeTargets: 3, NumChains: 1, DTIs: ddDTIs("SD-"),
			NumFdiffs: 1, Fdiffs: [MaxDDFdiffs]uint16{2}, ChainDiffs: [MaxDDChains]uint8{2}, Width: 640, Height: 360}},
		{"custom", ddL1T3Custom, DependencyDescriptor{StartOfFrame: true, EndOfFrame: true, TemplateID: 1, FrameNumber: 9,
			CustomDTIs: true, CustomFdiffs: true, CustomChains: true,
			NumDecodeTargets: 3, NumChains: 1, DTIs: ddDTIs("RRR"),
			NumFdiffs: 2, Fdiffs: [MaxDDFdiffs]uint16{8, 300}, ChainDiffs: [MaxDDChains]uint8{8}, Width: 640, Height: 360}},
	}
	for _, tc := range cases {
		d := ddParse(t, ddHex(t, tc.hex), &s)
		ddCheck(t, tc.name, &d, &tc.want)
		if got := ddMarshal(t, &d, &s); !bytes.Equal(got, ddHex(t, tc.hex)) {
			t.Fatalf("%s: marshalled % x, want %s", tc.name, got, tc.hex)
		}
	}
	if got := ddMarshal(t, &key, key.Structure); !bytes.Equal(got, ddHex(t, ddL1T3Key)) {
		t.Fatalf("key: marshalled % x, want %s", got, ddL1T3Key)
	}
}

// ddCheck fails the test when got does not say what want does.
func ddCheck(t *testing.T, name string, got, want *DependencyDescriptor) {
	t.Helper()
	if !ddEqual(got, want) {
		t.Fatalf("%s:\n got %+v\nwant %+v", name, *got, *want)
	}
}

// The captured L1T2 and L2T2 keyframes decode to what the project that
// published them expects of them (templates, layers, DTIs, template ids,
// frame numbers), and to the frame and chain diffs and sizes of those
// scalability modes; Prism writes them back byte for byte, so its writer
// lays the fields out as Chrome's does.
func TestDDCapturedL1T2L2T2(t *testing.T) {
	l1t2 := ddBuild(0, 1, []uint8{0, 0}, []ddTpl{
		{0, 0, nil, []uint8{0}, "SS"},
		{0, 0, []uint8{2}, []uint8{2}, "SS"},
		{0, 1, []uint8{1}, []uint8{1}, "-D"},
	})
	l1t2.HasResolutions, l1t2.Resolutions[0] = true, DDResolution{320, 240}
	next := l1t2
	next.TemplateIDOffset, next.Resolutions[0] = 6, DDResolution{640, 480}
	l2t2 := ddBuild(0, 2, []uint8{0, 0, 1, 1}, []ddTpl{
		{0, 0, nil, []uint8{0, 0}, "SSSS"},
		{0, 0, []uint8{4}, []uint8{4, 3}, "SSRR"},
		{0, 1, []uint8{2}, []uint8{2, 1}, "-D-R"},
		{1, 0, []uint8{1}, []uint8{1, 1}, "--SS"},
		{1, 0, []uint8{4, 1}, []uint8{1, 1}, "--SS"},
		{1, 1, []uint8{2, 1}, []uint8{3, 2}, "---D"},
	})
	l2t2.HasResolutions = true
	l2t2.Resolutions[0], l2t2.Resolutions[1] = DDResolution{160, 120}, DDResolution{320, 240}
	cases := []struct {
		hex        string
		want       DDStructure
		id         uint8
		frame      uint16
		start, end bool
	}{
		{ddChromeL1T2, l1t2, 0, 1, true, false},
		{ddChromeL1T2Next, next, 6, 181, true, false},
		{ddChromeL2T2, l2t2, 0, 1, true, true},
	}
	for _, tc := range cases {
		b := ddHex(t, tc.hex)
		d := ddParse(t, b, nil)
		if *d.Structure != tc.want || d.TemplateID != tc.id || d.FrameNumber != tc.frame || d.StartOfFrame != tc.start || d.EndOfFrame != tc.end {
			t.Fatalf("%s:\n got %+v %+v\nwant %+v", tc.hex, d, *d.Structure, tc.want)
		}
		if d.HasActiveDecodeTargets || d.CustomDTIs || d.CustomFdiffs || d.CustomChains {
			t.Fatalf("%s: extended flags %+v", tc.hex, d)
		}
		if got := ddMarshal(t, &d, d.Structure); !bytes.Equal(got, b) {
			t.Fatalf("re-marshalled\n % x\nwant\n % x", got, b)
		}
	}
	d := ddParse(t, ddHex(t, ddChromeMandatory), &next)
	if d.StartOfFrame || d.EndOfFrame || d.TemplateID != 8 || d.FrameNumber != 216 || d.Temporal != 1 || d.DTIs != ddDTIs("-D") {
		t.Fatalf("mandatory: %+v", d)
	}
}

// The captured L3T3 stream: its 95-byte structure is L3T3 full SVC (its
// decode targets' layers are checked in TestDDDecodeTargetLayers), its
// frames resolve against it, and everything writes back byte for byte.
func TestDDCapturedL3T3(t *testing.T) {
	b := ddHex(t, ddChromeL3T3)
	key := ddParse(t, b, nil)
	s := *key.Structure
	if s.NumTemplates != 15 || s.NumDecodeTargets != 9 || s.NumChains != 3 || !s.HasResolutions || s.Resolutions[2] != (DDResolution{480, 270}) {
		t.Fatalf("structure %+v", s)
	}
	if key.TemplateID != 1 || key.FrameNumber != 370 || key.Spatial != 0 || key.DTIs != ddDTIs("SSSSSSSSS") || key.NumFdiffs != 0 {
		t.Fatalf("key %+v", key)
	}
	if got := ddMarshal(t, &key, &s); !bytes.Equal(got, b) {
		t.Fatalf("re-marshalled\n % x\nwant\n % x", got, b)
	}
	for _, h := range ddChromeL3T3Frames {
		f := ddHex(t, h)
		d := ddParse(t, f, &s)
		if len(f) > 3 && (!d.HasActiveDecodeTargets || d.ActiveDecodeTargets != 0b000111111) {
			t.Fatalf("%s: mask %b, want spatial layers 0 and 1", h, d.ActiveDecodeTargets)
		}
		if got := ddMarshal(t, &d, &s); !bytes.Equal(got, f) {
			t.Fatalf("%s: re-marshalled % x", h, got)
		}
	}
}

func TestDDTruncated(t *testing.T) {
	s := ddL1T3()
	for _, h := range []string{ddL1T3Key, ddChromeL3T3, ddChromeL2T2} {
		b := ddHex(t, h)
		for n := range len(b) {
			var d DependencyDescriptor
			err := ParseDependencyDescriptor(b[:n], nil, &d)
			if err == nil {
				t.Fatalf("%s cut to %d bytes parsed", h, n)
			}
			if n < 3 && !errors.Is(err, ErrDDMalformed) || n == 3 && !errors.Is(err, ErrDDNoStructure) {
				t.Fatalf("%s cut to %d bytes: %v", h, n, err)
			}
		}
	}
	// Cut into the custom values.
	b := ddHex(t, ddL1T3Custom)
	for n := 4; n < len(b); n++ {
		var d DependencyDescriptor
		if err := ParseDependencyDescriptor(b[:n], &s, &d); !errors.Is(err, ErrDDMalformed) {
			t.Fatalf("custom cut to %d bytes: %v", n, err)
		}
	}
}

func TestDDMalformed(t *testing.T) {
	s := ddL1T3()
	cases := []struct {
		name   string
		bits   string
		latest *DDStructure
		err    error
	}{
		{"no structure", "10000000 00000000 00000001", nil, errDDMissing},
		{"mask without structure", "10000000 00000000 00000001 01000 011", nil, errDDMissing},
		{"template not in the structure", "10000101 00000000 00000001", &s, errDDUnknownTemplate},
		// 65 templates: next_layer_idc 0 sixty-four times.
		{"too many templates", "10000000 00000000 00000001 10000 000000 00000" + ddRepeat("00", 64) + "11", nil, errDDTemplates},
		{"spatial id 4", "10000000 00000000 00000001 10000 000000 00000" + ddRepeat("10", 4) + "11", nil, errDDLayers},
		{"temporal id 8", "10000000 00000000 00000001 10000 000000 00000" + ddRepeat("01", 8) + "11", nil, errDDLayers},
		// One template, one decode target; 17 template fdiffs.
		{"too many template fdiffs", "10000000 00000000 00000001 10000 000000 00000 11 00" + ddRepeat("10000", 17) + "0 0 0", nil, errDDFdiffs},
		// Template 0 of L1T3 with 17 custom fdiffs.
		{"too many frame fdiffs", "10000000 00000000 00000001 00010" + ddRepeat("010000", 17) + "00", &s, errDDFdiffs},
	}
	for _, tc := range cases {
		var d DependencyDescriptor
		err := ParseDependencyDescriptor(bitsFromString(ddSpaceless(tc.bits)), tc.latest, &d)
		if err != tc.err || !errors.Is(err, ErrDDMalformed) && !errors.Is(err, ErrDDNoStructure) {
			t.Fatalf("%s: %v, want %v", tc.name, err, tc.err)
		}
		if d.FrameNumber != 1 || !d.StartOfFrame {
			t.Fatalf("%s: mandatory fields not kept: %+v", tc.name, d)
		}
	}
}

// A caller's hand-built structure with counts out of range is an error,
// not a panic.
func TestDDLatestOutOfRange(t *testing.T) {
	c := 0
	for _, bad := range []func(*DDStructure){
		func(s *DDStructure) { s.NumDecodeTargets = 0 },
		func(s *DDStructure) { s.NumDecodeTargets = 40 },
		func(s *DDStructure) { s.NumChains = 10 },
		func(s *DDStructure) { s.NumTemplates = 200 },
		func(s *DDStructure) {
			for i := range s.Templates {
				s.Templates[i].NumFdiffs = 100
			}
		},
		func(s *DDStructure) {
			for i := range s.Templates {
				s.Templates[i].Spatial, s.HasResolutions = 9, true
			}
		},
	} {
		s := ddL1T3()
		bad(&s)
		c++
		var d DependencyDescriptor
		for _, h := range []string{ddL1T3T2, ddL1T3Mask, ddL1T3Custom} {
			if err := ParseDependencyDescriptor(ddHex(t, h), &s, &d); !errors.Is(err, ErrDDMalformed) && !errors.Is(err, ErrDDNoStructure) {
				t.Fatalf("%s against bad structure %d: %v", h, c, err)
			}
		}
		if n := d.MarshalSize(&s); n != 0 {
			t.Fatalf("marshal against bad structure %d: %d", c, n)
		}
	}
}

// Parsing a structure into d.Structure when it is latest itself would
// corrupt latest on a bad packet: a new one is used instead.
func TestDDStructureNotAliased(t *testing.T) {
	latest := ddL1T3()
	d := DependencyDescriptor{Structure: &latest}
	b := ddHex(t, ddChromeL3T3)
	if err := ParseDependencyDescriptor(b[:40], &latest, &d); err == nil {
		t.Fatal("truncated structure parsed")
	}
	if latest != ddL1T3() {
		t.Fatal("latest was overwritten")
	}
	if d.Structure == &latest {
		t.Fatal("parsed into latest")
	}
}

// Every field is reset on each parse, whatever d held before.
func TestDDParseResets(t *testing.T) {
	s := ddL1T3()
	var d DependencyDescriptor
	ddParseInto(t, ddHex(t, ddL1T3Custom), &s, &d)
	ddParseInto(t, ddHex(t, ddL1T3Key), &s, &d)
	ddParseInto(t, ddHex(t, ddL1T3T2), &s, &d)
	fresh := ddParse(t, ddHex(t, ddL1T3T2), &s)
	if !ddEqual(&d, &fresh) {
		t.Fatalf("reused %+v\nfresh %+v", d, fresh)
	}
}

func ddParseInto(t *testing.T, b []byte, s *DDStructure, d *DependencyDescriptor) {
	t.Helper()
	if err := ParseDependencyDescriptor(b, s, d); err != nil {
		t.Fatal(err)
	}
}

func TestDDAllocs(t *testing.T) {
	s := ddL3T3()
	key := DependencyDescriptor{StartOfFrame: true, HasStructure: true, ActiveDecodeTargets: s.AllDecodeTargets()}
	withStructure := ddMarshal(t, &key, &s)
	mandatory := ddHex(t, ddL1T3T2)
	l1t3 := ddL1T3()
	var d DependencyDescriptor
	ddParseInto(t, withStructure, nil, &d) // allocates d.Structure once
	buf := make([]byte, 256)
	for name, f := range map[string]func(){
		"parse mandatory":      func() { _ = ParseDependencyDescriptor(mandatory, &l1t3, &d) },
		"parse with structure": func() { _ = ParseDependencyDescriptor(withStructure, nil, &d) },
		"parse error":          func() { _ = ParseDependencyDescriptor(mandatory[:2], nil, &d) },
		"marshal mandatory":    func() { ddParseInto(t, mandatory, &l1t3, &d); d.MarshalTo(buf, &l1t3) },
		"marshal structure":    func() { ddParseInto(t, withStructure, nil, &d); d.MarshalTo(buf, d.Structure) },
	} {
		if n := testing.AllocsPerRun(200, f); n != 0 {
			t.Errorf("%s: %v allocations", name, n)
		}
	}
}

func BenchmarkDDParse(b *testing.B) {
	s := ddL3T3()
	key := DependencyDescriptor{HasStructure: true, ActiveDecodeTargets: s.AllDecodeTargets()}
	for _, bc := range []struct {
		name string
		ext  []byte
	}{
		{"mandatory", []byte{0xc3, 0x00, 0x04}},
		{"mask", ddMarshal(b, &DependencyDescriptor{TemplateID: 3, HasActiveDecodeTargets: true, ActiveDecodeTargets: 0x3f}, &s)},
		{"structure", ddMarshal(b, &key, &s)},
	} {
		b.Run(bc.name, func(b *testing.B) {
			var d DependencyDescriptor
			b.ReportAllocs()
			for b.Loop() {
				if err := ParseDependencyDescriptor(bc.ext, &s, &d); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// ddRepeat returns s n times.
func ddRepeat(s string, n int) string { return string(bytes.Repeat([]byte(s), n)) }

// ddSpaceless drops the spaces that group bits for reading.
func ddSpaceless(s string) string { return string(bytes.ReplaceAll([]byte(s), []byte(" "), nil)) }
