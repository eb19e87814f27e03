package rtp

import (
	"bytes"
	"errors"
	"testing"
)

// FuzzDependencyDescriptor parses arbitrary bytes without a structure and
// against each test structure. Beyond not panicking: every error wraps one
// of the two sentinels; whatever parses writes again, no longer than it
// came, and parses back to the same descriptor, and writing that gives the
// same bytes; and a rewrite says what it was asked to.
func FuzzDependencyDescriptor(f *testing.F) {
	for _, h := range append([]string{ddL1T3Key, ddL1T3T2, ddL1T3Mask, ddL1T3Custom, ddChromeL1T2, ddChromeL1T2Next,
		ddChromeMandatory, ddChromeL2T2, ddChromeL3T3}, ddChromeL3T3Frames...) {
		f.Add(ddHex(f, h))
	}
	l1t3, l3t3, key := ddL1T3(), ddL3T3(), ddL3T3Key()
	chrome := *ddParse(f, ddHex(f, ddChromeL3T3), nil).Structure
	for _, s := range []*DDStructure{&l3t3, &key} {
		for form := range ddForms {
			d := ddForm(s, 1, form)
			f.Add(ddMarshal(f, &d, s))
		}
	}
	structures := []*DDStructure{nil, &l1t3, &key, &chrome}
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, latest := range structures {
			ddFuzzOne(t, b, latest)
		}
	})
}

// ddFuzzOne checks one input against one latest structure.
func ddFuzzOne(t *testing.T, b []byte, latest *DDStructure) {
	var d DependencyDescriptor
	err := ParseDependencyDescriptor(b, latest, &d)
	var rd DependencyDescriptor
	out := make([]byte, 2*len(b)+8)
	rw := DDRewrite{FrameOffset: 0x8001, SetActive: true, ActiveDecodeTargets: 0x55555555}
	n, rerr := rd.Rewrite(out, b, latest, rw)
	if err != nil {
		if !errors.Is(err, ErrDDMalformed) && !errors.Is(err, ErrDDNoStructure) {
			t.Fatalf("% x: error %v wraps no sentinel", b, err)
		}
		if rerr != err {
			t.Fatalf("% x: rewrite error %v, parse error %v", b, rerr, err)
		}
		return
	}
	s := latest
	if d.HasStructure {
		s = d.Structure
	}
	again := ddFuzzWrite(t, b, &d, s)
	if len(again) > len(b) {
		t.Fatalf("% x grew to % x", b, again)
	}
	var d2 DependencyDescriptor
	if err := ParseDependencyDescriptor(again, latest, &d2); err != nil || !ddEqual(&d, &d2) {
		t.Fatalf("% x wrote % x, which parses to %v\n %+v\nnot %+v", b, again, err, d2, d)
	}
	if third := ddFuzzWrite(t, b, &d2, s); !bytes.Equal(third, again) {
		t.Fatalf("% x wrote % x, then % x", b, again, third)
	}
	if rerr != nil {
		t.Fatalf("% x: rewrite: %v", b, rerr)
	}
	var r DependencyDescriptor
	if err := ParseDependencyDescriptor(out[:n], latest, &r); err != nil ||
		r.FrameNumber != d.FrameNumber+rw.FrameOffset || r.ActiveDecodeTargets != rw.ActiveDecodeTargets&s.AllDecodeTargets() {
		t.Fatalf("% x rewritten to % x: %v %+v", b, out[:n], err, r)
	}
}

// ddFuzzWrite writes d against s; it must write.
func ddFuzzWrite(t *testing.T, b []byte, d *DependencyDescriptor, s *DDStructure) []byte {
	t.Helper()
	size := d.MarshalSize(s)
	out := make([]byte, size)
	if size == 0 || d.MarshalTo(out, s) != size {
		t.Fatalf("% x parsed to %+v, which does not write", b, *d)
	}
	return out
}
