package rtp

import (
	"strings"
	"testing"
)

// FuzzIsKeyframe feeds arbitrary payloads to every codec's keyframe check.
// Beyond not panicking, it checks rules that hold for any input: the answer
// does not depend on the MIME type's case, audio is never a keyframe, and a
// keyframe always has the bit that marks the start of a frame.
func FuzzIsKeyframe(f *testing.F) {
	for _, tc := range kfCases(kfVP8Cases, kfVP9Cases, kfH264Cases, kfAV1Cases) {
		f.Add(tc.payload)
	}
	mimes := []string{mimeVP8, mimeVP9, mimeH264, mimeAV1}
	f.Fuzz(func(t *testing.T, payload []byte) {
		for _, m := range mimes {
			got := IsKeyframe(m, payload)
			if got != IsKeyframe(strings.ToLower(m), payload) {
				t.Fatalf("%s: answer depends on case", m)
			}
			if got && !kfHasStartBit(m, payload) {
				t.Fatalf("%s: keyframe without start-of-frame bit: % x", m, payload)
			}
		}
		if IsKeyframe("audio/opus", payload) {
			t.Fatal("opus payload reported as keyframe")
		}
	})
}

// kfHasStartBit reports whether payload has the codec's start-of-frame marker.
func kfHasStartBit(mime string, payload []byte) bool {
	if len(payload) == 0 {
		return false
	}
	switch mime {
	case mimeVP8:
		return payload[0]&vp8S != 0
	case mimeVP9:
		return payload[0]&vp9B != 0
	case mimeAV1:
		return payload[0]&av1N != 0
	default:
		return true
	}
}
