package rtp

import (
	"bytes"
	"testing"
)

// Every template of each structure, written in each form the writer has
// (mandatory fields only; with a mask; with the structure attached; with
// custom values), parses back to the frame the template or the custom
// values describe, and writes again to the same bytes.
func TestDDRoundTrip(t *testing.T) {
	withRes := ddL3T3Key()
	withRes.HasResolutions = true
	withRes.Resolutions = [MaxDDSpatialLayers]DDResolution{{320, 180}, {640, 360}, {1280, 720}}
	for name, s := range map[string]DDStructure{"L1T3": ddL1T3(), "L3T3": ddL3T3(), "L3T3_KEY": ddL3T3Key(), "L3T3_KEY sizes": withRes} {
		for i := range int(s.NumTemplates) {
			for form := range ddForms {
				d := ddForm(&s, i, form)
				b := ddMarshal(t, &d, &s)
				if form == 0 && len(b) != 3 {
					t.Fatalf("%s template %d: mandatory fields in %d bytes", name, i, len(b))
				}
				got := ddParse(t, b, ddLatestFor(&d, &s))
				ddCheckForm(t, name, i, form, &s, &d, &got)
				if again := ddMarshal(t, &got, &s); !bytes.Equal(again, b) {
					t.Fatalf("%s template %d form %d: wrote % x, then % x", name, i, form, b, again)
				}
			}
		}
	}
}

// ddForms names the forms ddForm builds.
var ddForms = []string{"mandatory", "mask", "structure", "structure and mask", "custom"}

// ddForm returns a descriptor of template i of s in one of ddForms.
func ddForm(s *DDStructure, i, form int) DependencyDescriptor {
	d := DependencyDescriptor{StartOfFrame: i%2 == 0, EndOfFrame: i%3 == 0,
		TemplateID: uint8((int(s.TemplateIDOffset) + i) % MaxDDTemplates), FrameNumber: uint16(65530 + 3*i)}
	switch ddForms[form] {
	case "mask":
		d.HasActiveDecodeTargets, d.ActiveDecodeTargets = true, 0b101&s.AllDecodeTargets()
	case "structure":
		d.HasStructure = true
	case "structure and mask":
		d.HasStructure, d.HasActiveDecodeTargets, d.ActiveDecodeTargets = true, true, 1
	case "custom":
		d.CustomDTIs, d.CustomFdiffs, d.CustomChains = true, true, true
		d.DTIs.Set(int(s.NumDecodeTargets)-1, DTIRequired)
		d.NumFdiffs, d.Fdiffs = 3, [MaxDDFdiffs]uint16{1, 17, 4096}
		for c := range s.NumChains {
			d.ChainDiffs[c] = 200 + c
		}
	}
	return d
}

// ddLatestFor returns the latest structure a receiver of d has: none
// before a keyframe.
func ddLatestFor(d *DependencyDescriptor, s *DDStructure) *DDStructure {
	if d.HasStructure {
		return nil
	}
	return s
}

// ddCheckForm checks got, parsed from what d wrote, against d and template
// i of s.
func ddCheckForm(t *testing.T, name string, i, form int, s *DDStructure, d, got *DependencyDescriptor) {
	t.Helper()
	tp := &s.Templates[i]
	want := *d
	want.Spatial, want.Temporal = tp.Spatial, tp.Temporal
	want.NumDecodeTargets, want.NumChains = s.NumDecodeTargets, s.NumChains
	if !d.CustomDTIs {
		want.DTIs = tp.DTIs
	}
	if !d.CustomFdiffs {
		want.NumFdiffs = tp.NumFdiffs
		for k := range tp.NumFdiffs {
			want.Fdiffs[k] = uint16(tp.Fdiffs[k])
		}
	}
	if !d.CustomChains {
		copy(want.ChainDiffs[:], tp.ChainDiffs[:s.NumChains])
	}
	if d.HasStructure && !d.HasActiveDecodeTargets {
		want.ActiveDecodeTargets = s.AllDecodeTargets()
	}
	if s.HasResolutions {
		want.Width, want.Height = s.Resolutions[tp.Spatial].Width, s.Resolutions[tp.Spatial].Height
	}
	want.Structure = s
	if !ddEqual(got, &want) {
		t.Fatalf("%s template %d %s:\n got %+v\nwant %+v", name, i, ddForms[form], *got, want)
	}
}

func TestDDCustomFdiffSizes(t *testing.T) {
	s := ddL1T3()
	// Diffs up to 16 take 4 bits, up to 256 eight, up to 4096 twelve; each
	// has 2 bits of size before it, and 2 bits end the list.
	for _, tc := range []struct {
		fdiff uint16
		bits  int
	}{{1, 6}, {16, 6}, {17, 10}, {256, 10}, {257, 14}, {4096, 14}} {
		d := DependencyDescriptor{CustomFdiffs: true, NumFdiffs: 1, Fdiffs: [MaxDDFdiffs]uint16{tc.fdiff}}
		if n, want := d.MarshalSize(nil), (24+5+tc.bits+2+7)/8; n != want {
			t.Fatalf("fdiff %d: %d bytes, want %d", tc.fdiff, n, want)
		}
		got := ddParse(t, ddMarshal(t, &d, nil), &s)
		if got.NumFdiffs != 1 || got.Fdiffs[0] != tc.fdiff {
			t.Fatalf("fdiff %d read back as %v", tc.fdiff, got.Fdiffs[:got.NumFdiffs])
		}
	}
}

// What cannot be written as it is is not written at all.
func TestDDMarshalRejects(t *testing.T) {
	s := ddL1T3()
	cases := map[string]struct {
		d DependencyDescriptor
		s func(*DDStructure) // changes L1T3; nil: no structure
	}{
		"template id above 63":            {DependencyDescriptor{TemplateID: 64}, func(*DDStructure) {}},
		"template not in the structure":   {DependencyDescriptor{TemplateID: 5}, func(*DDStructure) {}},
		"fdiff 0":                         {DependencyDescriptor{CustomFdiffs: true, NumFdiffs: 1}, nil},
		"fdiff 4097":                      {DependencyDescriptor{CustomFdiffs: true, NumFdiffs: 1, Fdiffs: [MaxDDFdiffs]uint16{4097}}, nil},
		"fdiff count above the limit":     {DependencyDescriptor{CustomFdiffs: true, NumFdiffs: MaxDDFdiffs + 1}, nil},
		"structure layers jump":           {DependencyDescriptor{HasStructure: true}, func(s *DDStructure) { s.Templates[3].Temporal = 3 }},
		"structure starts above layer 0":  {DependencyDescriptor{HasStructure: true}, func(s *DDStructure) { s.Templates[0].Temporal = 1 }},
		"structure template fdiff 0":      {DependencyDescriptor{HasStructure: true}, func(s *DDStructure) { s.Templates[1].Fdiffs[0] = 0 }},
		"structure template fdiff 17":     {DependencyDescriptor{HasStructure: true}, func(s *DDStructure) { s.Templates[1].Fdiffs[0] = 17 }},
		"structure chain diff 16":         {DependencyDescriptor{HasStructure: true}, func(s *DDStructure) { s.Templates[1].ChainDiffs[0] = 16 }},
		"structure protected by no chain": {DependencyDescriptor{HasStructure: true}, func(s *DDStructure) { s.ProtectedBy[2] = 1 }},
		"structure offset above 63":       {DependencyDescriptor{HasStructure: true, TemplateID: 0}, func(s *DDStructure) { s.TemplateIDOffset = 64 }},
		"structure resolution 0":          {DependencyDescriptor{HasStructure: true}, func(s *DDStructure) { s.HasResolutions = true }},
		"structure resolution 65537": {DependencyDescriptor{HasStructure: true}, func(s *DDStructure) {
			s.HasResolutions, s.Resolutions[0] = true, DDResolution{65537, 1}
		}},
	}
	for name, tc := range cases {
		var ps *DDStructure // nil modifier: no structure given
		if tc.s != nil {
			bad := s
			tc.s(&bad)
			ps = &bad
		}
		buf := make([]byte, 64)
		if n := tc.d.MarshalSize(ps); n != 0 {
			t.Fatalf("%s: size %d", name, n)
		}
		if n := tc.d.MarshalTo(buf, ps); n != 0 || !bytes.Equal(buf, make([]byte, 64)) {
			t.Fatalf("%s: wrote %d bytes", name, n)
		}
	}
	// A mask, custom DTIs or custom chains need a structure's counts.
	for _, d := range []DependencyDescriptor{{HasActiveDecodeTargets: true}, {CustomDTIs: true}, {CustomChains: true}, {HasStructure: true}} {
		if n := d.MarshalSize(nil); n != 0 {
			t.Fatalf("%+v without a structure: size %d", d, n)
		}
	}
}

func TestDDMarshalShortBuffer(t *testing.T) {
	s := ddL3T3()
	d := DependencyDescriptor{HasStructure: true}
	n := d.MarshalSize(&s)
	buf := bytes.Repeat([]byte{0xaa}, n)
	if got := d.MarshalTo(buf[:n-1], &s); got != 0 || !bytes.Equal(buf, bytes.Repeat([]byte{0xaa}, n)) {
		t.Fatalf("short buffer: wrote %d", got)
	}
	if got := d.MarshalTo(buf, &s); got != n {
		t.Fatalf("exact buffer: wrote %d of %d", got, n)
	}
}
