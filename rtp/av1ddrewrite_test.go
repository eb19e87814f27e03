package rtp

import (
	"errors"
	"io"
	"testing"
)

func TestDDRewrite(t *testing.T) {
	s := ddL1T3()
	l3t3 := ddHex(t, ddChromeL3T3)
	chrome := *ddParse(t, l3t3, nil).Structure
	cases := []struct {
		name   string
		src    string
		latest *DDStructure
		rw     DDRewrite
		want   func(src DependencyDescriptor) DependencyDescriptor
	}{
		{"frame offset wraps", ddL1T3T2, &s, DDRewrite{FrameOffset: 0xfffe}, func(d DependencyDescriptor) DependencyDescriptor {
			d.FrameNumber = 2
			return d
		}},
		{"mask added", ddL1T3T2, &s, DDRewrite{SetActive: true, ActiveDecodeTargets: 0b110}, func(d DependencyDescriptor) DependencyDescriptor {
			d.HasActiveDecodeTargets, d.ActiveDecodeTargets = true, 0b110
			return d
		}},
		{"mask limited to the decode targets", ddL1T3Mask, &s, DDRewrite{SetActive: true, ActiveDecodeTargets: ^uint32(0)}, func(d DependencyDescriptor) DependencyDescriptor {
			d.ActiveDecodeTargets = 0b111
			return d
		}},
		{"own mask kept", ddL1T3Mask, &s, DDRewrite{FrameOffset: 1}, func(d DependencyDescriptor) DependencyDescriptor {
			d.FrameNumber++
			return d
		}},
		{"custom values kept", ddL1T3Custom, &s, DDRewrite{FrameOffset: 100, SetActive: true, ActiveDecodeTargets: 1}, func(d DependencyDescriptor) DependencyDescriptor {
			d.FrameNumber += 100
			d.HasActiveDecodeTargets, d.ActiveDecodeTargets = true, 1
			return d
		}},
		{"structure kept, mask added", ddChromeL3T3, nil, DDRewrite{FrameOffset: 7, SetActive: true, ActiveDecodeTargets: 0b111}, func(d DependencyDescriptor) DependencyDescriptor {
			d.FrameNumber += 7
			d.HasActiveDecodeTargets, d.ActiveDecodeTargets = true, 0b111
			return d
		}},
		{"frame of another structure's stream", ddChromeL3T3Frames[0], &chrome, DDRewrite{FrameOffset: 1}, func(d DependencyDescriptor) DependencyDescriptor {
			d.FrameNumber++
			return d
		}},
	}
	for _, tc := range cases {
		src := ddParse(t, ddHex(t, tc.src), tc.latest)
		var d DependencyDescriptor
		dst := make([]byte, 128)
		n, err := d.Rewrite(dst, ddHex(t, tc.src), tc.latest, tc.rw)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		want := tc.want(src)
		if !ddEqual(&d, &want) {
			t.Fatalf("%s: d left as\n %+v\nwant %+v", tc.name, d, want)
		}
		if got := ddParse(t, dst[:n], tc.latest); !ddEqual(&got, &want) {
			t.Fatalf("%s: wrote % x, which says\n %+v\nwant %+v", tc.name, dst[:n], got, want)
		}
	}
}

func TestDDRewriteErrors(t *testing.T) {
	s := ddL1T3()
	var d DependencyDescriptor
	if _, err := d.Rewrite(make([]byte, 16), ddHex(t, ddL1T3T2), nil, DDRewrite{}); !errors.Is(err, ErrDDNoStructure) {
		t.Fatalf("no structure: %v", err)
	}
	if _, err := d.Rewrite(make([]byte, 16), []byte{0x80}, &s, DDRewrite{}); !errors.Is(err, ErrDDMalformed) {
		t.Fatalf("truncated: %v", err)
	}
	// Adding a mask makes the 3-byte descriptor 4 bytes long.
	if n, err := d.Rewrite(make([]byte, 3), ddHex(t, ddL1T3T2), &s, DDRewrite{SetActive: true}); n != 0 || err != io.ErrShortBuffer {
		t.Fatalf("short dst: %d %v", n, err)
	}
}

func TestDDRewriteAllocs(t *testing.T) {
	s := ddL3T3()
	key := ddHex(t, ddChromeL3T3)
	frame := ddHex(t, ddChromeL3T3Frames[3])
	var d DependencyDescriptor
	dst := make([]byte, 128)
	rw := DDRewrite{FrameOffset: 9, SetActive: true, ActiveDecodeTargets: 0x1f}
	if _, err := d.Rewrite(dst, key, nil, rw); err != nil { // allocates d.Structure once
		t.Fatal(err)
	}
	for name, src := range map[string][]byte{"frame": frame, "structure": key} {
		if n := testing.AllocsPerRun(200, func() { _, _ = d.Rewrite(dst, src, &s, rw) }); n != 0 {
			t.Errorf("%s: %v allocations", name, n)
		}
	}
}

func BenchmarkDDRewrite(b *testing.B) {
	chrome := *ddParse(b, ddHex(b, ddChromeL3T3), nil).Structure
	for _, bc := range []struct {
		name string
		src  string
	}{{"mandatory", ddChromeL3T3Frames[3]}, {"mask", ddChromeL3T3Frames[0]}, {"structure", ddChromeL3T3}} {
		b.Run(bc.name, func(b *testing.B) {
			src := ddHex(b, bc.src)
			var d DependencyDescriptor
			dst := make([]byte, 128)
			rw := DDRewrite{FrameOffset: 1000, SetActive: true, ActiveDecodeTargets: chrome.DecodeTargetsUpTo(1, 2)}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := d.Rewrite(dst, src, &chrome, rw); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
