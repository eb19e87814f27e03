package rtp

import (
	"encoding/hex"
	"strings"
	"testing"
)

// ddTpl is a template as the spec's example tables write it: layers,
// frame diffs, chain diffs, and the DTIs as symbols (- D S R).
type ddTpl struct {
	s, t   uint8
	fdiffs []uint8
	chains []uint8
	dtis   string
}

// ddBuild makes a structure of nchains chains and templates; protectedBy
// has an entry for each decode target: the chain that protects it.
func ddBuild(offset uint8, nchains uint8, protectedBy []uint8, tpls []ddTpl) DDStructure {
	s := DDStructure{TemplateIDOffset: offset, NumDecodeTargets: uint8(len(protectedBy)), NumChains: nchains}
	copy(s.ProtectedBy[:], protectedBy)
	for i, tp := range tpls {
		t := &s.Templates[i]
		t.Spatial, t.Temporal, t.DTIs = tp.s, tp.t, ddDTIs(tp.dtis)
		t.NumFdiffs = uint8(copy(t.Fdiffs[:], tp.fdiffs))
		copy(t.ChainDiffs[:], tp.chains)
	}
	s.NumTemplates = uint8(len(tpls))
	return s
}

// ddDTIs parses DTI symbols: "SD-" is switch, discardable, not present.
func ddDTIs(sym string) DTIs {
	var t DTIs
	for i, c := range sym {
		t.Set(i, DTI(strings.IndexRune("-DSR", c)))
	}
	return t
}

// ddL1T3 is the spec's example A.6.1, L1T3: decode targets 30, 15 and 7.5
// fps, one chain of the temporal layer 0 frames.
func ddL1T3() DDStructure {
	return ddBuild(0, 1, []uint8{0, 0, 0}, []ddTpl{
		{0, 0, nil, []uint8{0}, "SSS"},
		{0, 0, []uint8{4}, []uint8{4}, "SSS"},
		{0, 1, []uint8{2}, []uint8{2}, "SD-"},
		{0, 2, []uint8{1}, []uint8{1}, "D--"},
		{0, 2, []uint8{1}, []uint8{3}, "D--"},
	})
}

// ddL3T3 is the spec's example A.6.3, L3T3 full SVC: decode targets HD,
// VGA and QVGA at 30, 15 and 7.5 fps, in that order; chain 0 protects
// QVGA, 1 VGA, 2 HD.
func ddL3T3() DDStructure {
	return ddBuild(0, 3, []uint8{2, 2, 2, 1, 1, 1, 0, 0, 0}, []ddTpl{
		{0, 0, nil, []uint8{0, 0, 0}, "SSSSSSSSS"},
		{0, 0, []uint8{12}, []uint8{12, 11, 10}, "RRRRRRSSS"},
		{0, 1, []uint8{6}, []uint8{6, 5, 4}, "RR-RR-SD-"},
		{0, 2, []uint8{3}, []uint8{3, 2, 1}, "R--R--D--"},
		{0, 2, []uint8{3}, []uint8{9, 8, 7}, "R--R--D--"},
		{1, 0, []uint8{1}, []uint8{1, 1, 1}, "SSSSSS---"},
		{1, 0, []uint8{12, 1}, []uint8{1, 1, 1}, "RRRSSS---"},
		{1, 1, []uint8{6, 1}, []uint8{7, 6, 5}, "RR-SD----"},
		{1, 2, []uint8{3, 1}, []uint8{4, 3, 2}, "R--D-----"},
		{1, 2, []uint8{3, 1}, []uint8{10, 9, 8}, "R--D-----"},
		{2, 0, []uint8{1}, []uint8{2, 1, 1}, "SSS------"},
		{2, 0, []uint8{12, 1}, []uint8{2, 1, 1}, "SSS------"},
		{2, 1, []uint8{6, 1}, []uint8{8, 7, 6}, "SD-------"},
		{2, 2, []uint8{3, 1}, []uint8{5, 4, 3}, "D--------"},
		{2, 2, []uint8{3, 1}, []uint8{11, 10, 9}, "D--------"},
	})
}

// ddL3T3Key is L3T3_KEY, K-SVC: three spatial layers that refer to each
// other only on the keyframe, each an L1T3 of its own after it. Built for
// these tests from that prediction structure, not taken from anywhere:
// decode target 3s+t is spatial s at temporal t; chain s protects spatial
// layer s and holds its temporal layer 0 frames and the lower layers' key
// frames. A temporal unit has frames n (S0), n+1 (S1), n+2 (S2); the
// pattern repeats every 4 units, 12 frame numbers.
func ddL3T3Key() DDStructure {
	return ddBuild(20, 3, []uint8{0, 0, 0, 1, 1, 1, 2, 2, 2}, []ddTpl{
		{0, 0, nil, []uint8{0, 0, 0}, "SSSSSSSSS"},
		{0, 0, []uint8{12}, []uint8{12, 11, 10}, "SSS------"},
		{0, 1, []uint8{6}, []uint8{6, 5, 4}, "-DS------"},
		{0, 2, []uint8{3}, []uint8{3, 2, 1}, "--D------"},
		{0, 2, []uint8{3}, []uint8{9, 8, 7}, "--D------"},
		{1, 0, []uint8{1}, []uint8{1, 1, 1}, "---SSSSSS"},
		{1, 0, []uint8{12}, []uint8{1, 12, 11}, "---SSS---"},
		{1, 1, []uint8{6}, []uint8{7, 6, 5}, "----DS---"},
		{1, 2, []uint8{3}, []uint8{4, 3, 2}, "-----D---"},
		{1, 2, []uint8{3}, []uint8{10, 9, 8}, "-----D---"},
		{2, 0, []uint8{1}, []uint8{2, 1, 1}, "------SSS"},
		{2, 0, []uint8{12}, []uint8{2, 1, 12}, "------SSS"},
		{2, 1, []uint8{6}, []uint8{8, 7, 6}, "-------DS"},
		{2, 2, []uint8{3}, []uint8{5, 4, 3}, "--------D"},
		{2, 2, []uint8{3}, []uint8{11, 10, 9}, "--------D"},
	})
}

// Descriptors captured from Chrome's traffic, as published as test data in
// two open-source SFU projects' dependency descriptor tests (hex strings
// only; those projects' expectations are restated where used).
const (
	// An L1T2 keyframe's first packet: 3 templates, 2 decode targets.
	ddChromeL1T2 = "80000180011ea85141010c04fc03bc"
	// The same stream's next structure, at template id offset 6.
	ddChromeL1T2Next = "8600b580c11ea85141010c09fc077c"
	// A frame that attaches nothing: template 8, frame 216.
	ddChromeMandatory = "0800d8"
	// An L2T2 keyframe's first packet: 6 templates, 4 decode targets.
	ddChromeL2T2 = "c000018003187aaaf130a0a014d1413823046008642222265009f0077013f00ef0"
	// An L3T3 keyframe's first packet (95 bytes: 15 templates, 9 decode
	// targets, 3 chains, resolutions), then frames of that stream, two of
	// them with an active decode targets mask.
	ddChromeL3T3 = "c1017280081485214eafffaaaa863cf0430c10c302afc0aaa0063c00430010c002a000a80006000040001d954926e082b04a0941b820ac1282503157f974000ca864330e222222eca8655304224230eca877530077004200ef008601df010d"
)

// ddChromeL3T3Frames follow ddChromeL3T3 in the capture.
var ddChromeL3T3Frames = []string{"86017340fc", "46017340fc", "c3017540fc", "860173", "460173", "8b0174", "0b0174", "c30175"}

// ddHex decodes a hex test vector.
func ddHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// ddParse parses b or fails the test.
func ddParse(t testing.TB, b []byte, latest *DDStructure) DependencyDescriptor {
	t.Helper()
	var d DependencyDescriptor
	if err := ParseDependencyDescriptor(b, latest, &d); err != nil {
		t.Fatalf("parse % x: %v", b, err)
	}
	return d
}

// ddEqual reports whether two descriptors say the same: every field, and
// the attached structures' contents rather than their addresses.
func ddEqual(a, b *DependencyDescriptor) bool {
	x, y := *a, *b
	x.Structure, y.Structure = nil, nil
	if x != y {
		return false
	}
	return !a.HasStructure || *a.Structure == *b.Structure
}

// ddMarshal writes d against s or fails the test.
func ddMarshal(t testing.TB, d *DependencyDescriptor, s *DDStructure) []byte {
	t.Helper()
	n := d.MarshalSize(s)
	b := make([]byte, n)
	if n == 0 || d.MarshalTo(b, s) != n {
		t.Fatalf("marshal %+v: size %d", d, n)
	}
	return b
}
