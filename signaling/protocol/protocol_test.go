package protocol_test

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/prismsfu/prism/signaling/protocol"
)

func ptr[T any](v T) *T { return &v }

// validMessages holds one well-formed message of every type, as a peer
// would send it, with what Decode must make of it.
var validMessages = []struct {
	name string
	in   string
	want protocol.Message
}{
	{
		name: "join",
		in:   `{"type":"join","version":1,"room":"demo","name":"ann","token":"secret"}`,
		want: protocol.Message{Type: protocol.TypeJoin, Version: 1, Room: "demo", Name: "ann", Token: "secret"},
	},
	{
		name: "join with metadata",
		in:   `{"type":"join","version":1,"room":"demo","metadata":"{\"role\":\"host\"}"}`,
		want: protocol.Message{Type: protocol.TypeJoin, Version: 1, Room: "demo", Metadata: `{"role":"host"}`},
	},
	// Forward compatibility: fields this version does not know, at any
	// level, are ignored, so a newer peer never breaks an older one.
	{
		name: "version-1 join with a field from the future",
		in:   `{"type":"join","version":1,"room":"demo","name":"ann","avatar":{"url":"x"},"hidden":true}`,
		want: protocol.Message{Type: protocol.TypeJoin, Version: 1, Room: "demo", Name: "ann"},
	},
	{
		name: "unknown fields inside nested objects",
		in:   `{"type":"publish","track":{"id":"cam","kind":"video","width":640,"simulcast":[1,2]}}`,
		want: protocol.Message{Type: protocol.TypePublish, Track: &protocol.Track{ID: "cam", Kind: "video"}},
	},
	{
		name: "unknown candidate field",
		in:   `{"type":"candidate","pc":"publish","candidate":{"candidate":"c","foundation":"1"}}`,
		want: protocol.Message{Type: protocol.TypeCandidate, PC: "publish", Candidate: &protocol.Candidate{Candidate: "c"}},
	},
	{
		name: "join with only a room",
		in:   `{"type":"join","room":"demo"}`,
		want: protocol.Message{Type: protocol.TypeJoin, Room: "demo"},
	},
	{
		name: "joined",
		in: `{"type":"joined","version":1,"room":"demo","participant_id":"p2","participants":[` +
			`{"id":"p1","name":"ann","tracks":[{"id":"cam","participant_id":"p1","kind":"video","codec":"video/VP8","source":"camera","muted":false}]}]}`,
		want: protocol.Message{
			Type: protocol.TypeJoined, Version: 1, Room: "demo", ParticipantID: "p2",
			Participants: []protocol.Participant{{ID: "p1", Name: "ann", Tracks: []protocol.Track{
				{ID: "cam", ParticipantID: "p1", Kind: "video", Codec: "video/VP8", Source: protocol.SourceCamera},
			}}},
		},
	},
	{
		name: "participant_joined",
		in:   `{"type":"participant_joined","participant":{"id":"p3","name":"cy","tracks":[]}}`,
		want: protocol.Message{Type: protocol.TypeParticipantJoined, Participant: &protocol.Participant{ID: "p3", Name: "cy", Tracks: []protocol.Track{}}},
	},
	{
		name: "participant_left",
		in:   `{"type":"participant_left","participant_id":"p3"}`,
		want: protocol.Message{Type: protocol.TypeParticipantLeft, ParticipantID: "p3"},
	},
	{
		name: "publish",
		in:   `{"type":"publish","track":{"id":"cam","kind":"video","source":"camera","muted":true}}`,
		want: protocol.Message{Type: protocol.TypePublish, Track: &protocol.Track{ID: "cam", Kind: "video", Source: protocol.SourceCamera, Muted: true}},
	},
	{
		name: "publish without a source",
		in:   `{"type":"publish","track":{"id":"mic","kind":"audio"}}`,
		want: protocol.Message{Type: protocol.TypePublish, Track: &protocol.Track{ID: "mic", Kind: "audio"}},
	},
	{
		name: "publish screen_audio",
		in:   `{"type":"publish","track":{"id":"sa","kind":"audio","source":"screen_audio"}}`,
		want: protocol.Message{Type: protocol.TypePublish, Track: &protocol.Track{ID: "sa", Kind: "audio", Source: protocol.SourceScreenAudio}},
	},
	{
		name: "unpublish",
		in:   `{"type":"unpublish","track_id":"cam"}`,
		want: protocol.Message{Type: protocol.TypeUnpublish, TrackID: "cam"},
	},
	{
		name: "track_published",
		in:   `{"type":"track_published","track":{"id":"scr","participant_id":"p1","kind":"video","codec":"video/VP9","source":"screen","muted":false}}`,
		want: protocol.Message{Type: protocol.TypeTrackPublished, Track: &protocol.Track{
			ID: "scr", ParticipantID: "p1", Kind: "video", Codec: "video/VP9", Source: protocol.SourceScreen,
		}},
	},
	{
		name: "track_unpublished",
		in:   `{"type":"track_unpublished","track":{"id":"scr","participant_id":"p1","kind":"video","codec":"video/VP9","source":"screen","muted":false}}`,
		want: protocol.Message{Type: protocol.TypeTrackUnpublished, Track: &protocol.Track{
			ID: "scr", ParticipantID: "p1", Kind: "video", Codec: "video/VP9", Source: protocol.SourceScreen,
		}},
	},
	{
		name: "mute true",
		in:   `{"type":"mute","track_id":"mic","muted":true}`,
		want: protocol.Message{Type: protocol.TypeMute, TrackID: "mic", Muted: ptr(true)},
	},
	{
		name: "mute false",
		in:   `{"type":"mute","track_id":"mic","muted":false}`,
		want: protocol.Message{Type: protocol.TypeMute, TrackID: "mic", Muted: ptr(false)},
	},
	{
		name: "track_muted",
		in:   `{"type":"track_muted","track":{"id":"mic","participant_id":"p1","kind":"audio","codec":"audio/opus","source":"microphone","muted":true}}`,
		want: protocol.Message{Type: protocol.TypeTrackMuted, Track: &protocol.Track{
			ID: "mic", ParticipantID: "p1", Kind: "audio", Codec: "audio/opus", Source: protocol.SourceMicrophone, Muted: true,
		}},
	},
	{
		name: "offer on publish",
		in:   `{"type":"offer","pc":"publish","sdp":"v=0\r\n"}`,
		want: protocol.Message{Type: protocol.TypeOffer, PC: protocol.PCPublish, SDP: "v=0\r\n"},
	},
	{
		name: "offer on subscribe",
		in:   `{"type":"offer","pc":"subscribe","sdp":"v=0\r\n"}`,
		want: protocol.Message{Type: protocol.TypeOffer, PC: protocol.PCSubscribe, SDP: "v=0\r\n"},
	},
	{
		name: "answer",
		in:   `{"type":"answer","pc":"subscribe","sdp":"v=0\r\n"}`,
		want: protocol.Message{Type: protocol.TypeAnswer, PC: protocol.PCSubscribe, SDP: "v=0\r\n"},
	},
	{
		name: "candidate",
		in:   `{"type":"candidate","pc":"publish","candidate":{"candidate":"candidate:1 1 udp 2130706431 192.0.2.1 50000 typ host","sdpMid":"0","sdpMLineIndex":0,"usernameFragment":"abcd"}}`,
		want: protocol.Message{Type: protocol.TypeCandidate, PC: protocol.PCPublish, Candidate: &protocol.Candidate{
			Candidate: "candidate:1 1 udp 2130706431 192.0.2.1 50000 typ host",
			SDPMid:    ptr("0"), SDPMLineIndex: ptr(uint16(0)), UsernameFragment: ptr("abcd"),
		}},
	},
	{
		// An empty candidate string is how RTCIceCandidateInit says
		// "end of candidates"; Decode lets it through.
		name: "candidate with only an empty candidate string",
		in:   `{"type":"candidate","pc":"subscribe","candidate":{"candidate":""}}`,
		want: protocol.Message{Type: protocol.TypeCandidate, PC: protocol.PCSubscribe, Candidate: &protocol.Candidate{}},
	},
	{
		name: "chat from a client",
		in:   `{"type":"chat","text":"hello"}`,
		want: protocol.Message{Type: protocol.TypeChat, Text: "hello"},
	},
	{
		name: "chat from the server",
		in:   `{"type":"chat","text":"hello","from":{"id":"p1","name":"ann","tracks":null},"time_ms":1767225600000}`,
		want: protocol.Message{Type: protocol.TypeChat, Text: "hello", From: &protocol.Participant{ID: "p1", Name: "ann"}, TimeMS: 1767225600000},
	},
	{
		name: "leave from a client",
		in:   `{"type":"leave"}`,
		want: protocol.Message{Type: protocol.TypeLeave},
	},
	{
		name: "leave from the server",
		in:   `{"type":"leave","code":"server_shutdown","message":"the server is shutting down"}`,
		want: protocol.Message{Type: protocol.TypeLeave, Code: protocol.CodeServerShutdown, Reason: "the server is shutting down"},
	},
	{
		name: "error",
		in:   `{"type":"error","code":"bad_sdp","message":"bad SDP: answer without an offer"}`,
		want: protocol.Message{Type: protocol.TypeError, Code: protocol.CodeBadSDP, Reason: "bad SDP: answer without an offer"},
	},
	{
		name: "subscription",
		in:   `{"type":"subscription","participant_id":"p1","track_id":"cam","quality":"medium","width":640,"height":360,"fps":15}`,
		want: protocol.Message{Type: protocol.TypeSubscription, ParticipantID: "p1", TrackID: "cam", Quality: protocol.QualityMedium, Width: 640, Height: 360, FPS: 15},
	},
	{
		name: "subscription pause",
		in:   `{"type":"subscription","participant_id":"p1","track_id":"cam","paused":true}`,
		want: protocol.Message{Type: protocol.TypeSubscription, ParticipantID: "p1", TrackID: "cam", Paused: true},
	},
	{
		name: "layers",
		in:   `{"type":"layers","track_id":"cam","layers":[{"rid":"q","active":true},{"rid":"f","active":false}]}`,
		want: protocol.Message{Type: protocol.TypeLayers, TrackID: "cam", Layers: []protocol.Layer{{RID: "q", Active: true}, {RID: "f"}}},
	},
	{
		name: "keepalive",
		in:   `{"type":"keepalive"}`,
		want: protocol.Message{Type: protocol.TypeKeepalive},
	},
	{
		name: "surrounding whitespace",
		in:   " \r\n\t{\"type\":\"keepalive\"}\n ",
		want: protocol.Message{Type: protocol.TypeKeepalive},
	},
	{
		name: "limits: room 128 bytes, name 64 bytes",
		in:   `{"type":"join","version":1,"room":"` + strings.Repeat("r", 128) + `","name":"` + strings.Repeat("n", 64) + `"}`,
		want: protocol.Message{Type: protocol.TypeJoin, Version: 1, Room: strings.Repeat("r", 128), Name: strings.Repeat("n", 64)},
	},
	{
		name: "limits: chat 4096 bytes",
		in:   `{"type":"chat","text":"` + strings.Repeat("x", 4096) + `"}`,
		want: protocol.Message{Type: protocol.TypeChat, Text: strings.Repeat("x", 4096)},
	},
	{
		// The union's fields that belong to other types are allowed and
		// ignored; only names the protocol does not know are refused.
		name: "field of another type",
		in:   `{"type":"keepalive","room":"demo"}`,
		want: protocol.Message{Type: protocol.TypeKeepalive, Room: "demo"},
	},
}

func TestDecodeValid(t *testing.T) {
	for _, tc := range validMessages {
		t.Run(tc.name, func(t *testing.T) {
			got, err := protocol.Decode([]byte(tc.in))
			if err != nil {
				t.Fatalf("Decode(%s): %v", tc.in, err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("Decode(%s)\n got %#v\nwant %#v", tc.in, got, tc.want)
			}
		})
	}
}

// Every type the protocol defines has a valid example above.
func TestDecodeValidCoversEveryType(t *testing.T) {
	seen := map[string]bool{}
	for _, tc := range validMessages {
		seen[tc.want.Type] = true
	}
	for _, typ := range []string{
		protocol.TypeJoin, protocol.TypeJoined, protocol.TypeParticipantJoined, protocol.TypeParticipantLeft,
		protocol.TypePublish, protocol.TypeUnpublish, protocol.TypeTrackPublished, protocol.TypeTrackUnpublished,
		protocol.TypeMute, protocol.TypeTrackMuted, protocol.TypeOffer, protocol.TypeAnswer, protocol.TypeCandidate,
		protocol.TypeChat, protocol.TypeLeave, protocol.TypeError, protocol.TypeKeepalive,
		protocol.TypeSubscription, protocol.TypeLayers,
	} {
		if !seen[typ] {
			t.Errorf("no valid example of %q", typ)
		}
	}
}

// A message of exactly MaxMessageSize bytes is accepted.
func TestDecodeAtSizeLimit(t *testing.T) {
	head, tail := `{"type":"offer","pc":"publish","sdp":"`, `"}`
	in := head + strings.Repeat("a", protocol.MaxMessageSize-len(head)-len(tail)) + tail
	if len(in) != protocol.MaxMessageSize {
		t.Fatalf("built %d bytes, want %d", len(in), protocol.MaxMessageSize)
	}
	if _, err := protocol.Decode([]byte(in)); err != nil {
		t.Fatalf("Decode of a %d-byte message: %v", len(in), err)
	}
}

func TestDecodeInvalid(t *testing.T) {
	tooLarge := `{"type":"chat","text":"` + strings.Repeat("x", protocol.MaxMessageSize) + `"}`
	tests := []struct {
		name string
		in   string
		code string
		// want are substrings the error's message must contain, matched
		// case-insensitively.
		want []string
	}{
		// Malformed JSON.
		{name: "empty input", in: ``, code: protocol.CodeBadMessage, want: []string{"invalid JSON"}},
		{name: "truncated object", in: `{"type":"join",`, code: protocol.CodeBadMessage, want: []string{"invalid JSON"}},
		{name: "not JSON", in: `hello`, code: protocol.CodeBadMessage, want: []string{"invalid JSON"}},
		{name: "array", in: `[{"type":"leave"}]`, code: protocol.CodeBadMessage, want: []string{"invalid JSON", "array"}},
		{name: "string", in: `"leave"`, code: protocol.CodeBadMessage, want: []string{"invalid JSON", "string"}},
		{name: "number", in: `42`, code: protocol.CodeBadMessage, want: []string{"invalid JSON", "number"}},
		{name: "wrong field type", in: `{"type":"join","version":"1","room":"demo"}`, code: protocol.CodeBadMessage, want: []string{"invalid JSON", "version"}},
		{name: "fractional version", in: `{"type":"join","version":1.5,"room":"demo"}`, code: protocol.CodeBadMessage, want: []string{"invalid JSON", "version"}},
		{name: "sdpMLineIndex out of range", in: `{"type":"candidate","pc":"publish","candidate":{"candidate":"c","sdpMLineIndex":70000}}`, code: protocol.CodeBadMessage, want: []string{"invalid JSON", "sdpMLineIndex"}},
		{name: "type is not a string", in: `{"type":7}`, code: protocol.CodeBadMessage, want: []string{"invalid JSON", "type"}},

		// Trailing data.
		{name: "trailing text", in: `{"type":"leave"} x`, code: protocol.CodeBadMessage, want: []string{"trailing data"}},
		{name: "two messages", in: `{"type":"leave"}{"type":"leave"}`, code: protocol.CodeBadMessage, want: []string{"trailing data"}},
		{name: "trailing number", in: `{"type":"leave"} 1`, code: protocol.CodeBadMessage, want: []string{"trailing data"}},
		{
			name: "trailing closing brace", in: `{"type":"leave"}}`, code: protocol.CodeBadMessage, want: []string{"trailing data"},
		},
		{
			name: "trailing closing bracket", in: `{"type":"leave"} ]`, code: protocol.CodeBadMessage, want: []string{"trailing data"},
		},

		// A known field of an unknown message is still checked.
		{name: "unknown field does not hide a wrong one", in: `{"type":"mute","track_id":"x","muted":"yes","colour":"red"}`, code: protocol.CodeBadMessage, want: []string{"invalid JSON"}},

		// Type.
		{name: "unknown type", in: `{"type":"teleport"}`, code: protocol.CodeUnknownType, want: []string{"unknown message type", `"teleport"`}},
		{name: "type in the wrong case", in: `{"type":"JOIN","room":"demo"}`, code: protocol.CodeUnknownType, want: []string{`"JOIN"`}},
		{name: "missing type", in: `{"room":"demo"}`, code: protocol.CodeBadMessage, want: []string{`missing "type"`}},
		{name: "empty object", in: `{}`, code: protocol.CodeBadMessage, want: []string{`missing "type"`}},
		{name: "empty type", in: `{"type":""}`, code: protocol.CodeBadMessage, want: []string{`missing "type"`}},
		{name: "null", in: `null`, code: protocol.CodeBadMessage, want: []string{`missing "type"`}},

		// Size.
		{name: "oversize", in: tooLarge, code: protocol.CodeTooLarge, want: []string{fmt.Sprint(len(tooLarge), " bytes"), fmt.Sprint("limit is ", protocol.MaxMessageSize)}},
		{name: "oversize garbage", in: strings.Repeat("{", protocol.MaxMessageSize+1), code: protocol.CodeTooLarge, want: []string{"limit"}},

		// join.
		{name: "join without room", in: `{"type":"join","version":1,"name":"ann"}`, code: protocol.CodeBadMessage, want: []string{"join", "room must be 1 to 128 bytes"}},
		{name: "join with empty room", in: `{"type":"join","version":1,"room":""}`, code: protocol.CodeBadMessage, want: []string{"join", "room"}},
		{name: "join with a 129-byte room", in: `{"type":"join","version":1,"room":"` + strings.Repeat("r", 129) + `"}`, code: protocol.CodeBadMessage, want: []string{"join", "room must be 1 to 128 bytes"}},
		{name: "join with a 65-byte name", in: `{"type":"join","version":1,"room":"demo","name":"` + strings.Repeat("n", 65) + `"}`, code: protocol.CodeBadMessage, want: []string{"join", "name is over 64 bytes"}},
		{name: "join with a long token", in: `{"type":"join","version":1,"room":"demo","token":"` + strings.Repeat("t", 4097) + `"}`, code: protocol.CodeBadMessage, want: []string{"join", "token is over 4096 bytes"}},

		// publish.
		{name: "publish without track", in: `{"type":"publish"}`, code: protocol.CodeBadMessage, want: []string{"publish", "track.id"}},
		{name: "publish with null track", in: `{"type":"publish","track":null}`, code: protocol.CodeBadMessage, want: []string{"publish", "track.id"}},
		{name: "publish without track id", in: `{"type":"publish","track":{"kind":"video"}}`, code: protocol.CodeBadMessage, want: []string{"publish", "track.id must be 1 to 128 bytes"}},
		{name: "publish with a 129-byte track id", in: `{"type":"publish","track":{"id":"` + strings.Repeat("i", 129) + `","kind":"video"}}`, code: protocol.CodeBadMessage, want: []string{"publish", "track.id must be 1 to 128 bytes"}},
		{name: "publish with bad kind", in: `{"type":"publish","track":{"id":"cam","kind":"data"}}`, code: protocol.CodeBadMessage, want: []string{"publish", "track.kind", `"audio" or "video"`}},
		{name: "publish without kind", in: `{"type":"publish","track":{"id":"cam"}}`, code: protocol.CodeBadMessage, want: []string{"publish", "track.kind"}},
		{name: "publish with kind in the wrong case", in: `{"type":"publish","track":{"id":"cam","kind":"Video"}}`, code: protocol.CodeBadMessage, want: []string{"track.kind"}},
		{name: "publish with bad source", in: `{"type":"publish","track":{"id":"cam","kind":"video","source":"webcam"}}`, code: protocol.CodeBadMessage, want: []string{"publish", "unknown track.source", `"webcam"`}},

		// unpublish.
		{name: "unpublish without track_id", in: `{"type":"unpublish"}`, code: protocol.CodeBadMessage, want: []string{"unpublish", "missing track_id"}},

		// mute.
		{name: "mute without muted", in: `{"type":"mute","track_id":"mic"}`, code: protocol.CodeBadMessage, want: []string{"mute", "track_id and muted are required"}},
		{name: "mute with null muted", in: `{"type":"mute","track_id":"mic","muted":null}`, code: protocol.CodeBadMessage, want: []string{"mute", "muted"}},
		{name: "mute without track_id", in: `{"type":"mute","muted":true}`, code: protocol.CodeBadMessage, want: []string{"mute", "track_id"}},
		{name: "mute with a string", in: `{"type":"mute","track_id":"mic","muted":"yes"}`, code: protocol.CodeBadMessage, want: []string{"invalid JSON", "muted"}},

		// offer and answer.
		{name: "offer without pc", in: `{"type":"offer","sdp":"v=0"}`, code: protocol.CodeBadMessage, want: []string{"offer", `pc must be "publish" or "subscribe"`}},
		{name: "offer with bad pc", in: `{"type":"offer","pc":"both","sdp":"v=0"}`, code: protocol.CodeBadMessage, want: []string{"offer", `pc must be "publish" or "subscribe"`}},
		{name: "offer with empty sdp", in: `{"type":"offer","pc":"publish","sdp":""}`, code: protocol.CodeBadMessage, want: []string{"offer", "missing sdp"}},
		{name: "offer without sdp", in: `{"type":"offer","pc":"publish"}`, code: protocol.CodeBadMessage, want: []string{"offer", "missing sdp"}},
		{name: "answer with bad pc", in: `{"type":"answer","pc":"Subscribe","sdp":"v=0"}`, code: protocol.CodeBadMessage, want: []string{"answer", `pc must be "publish" or "subscribe"`}},
		{name: "answer with empty sdp", in: `{"type":"answer","pc":"subscribe","sdp":""}`, code: protocol.CodeBadMessage, want: []string{"answer", "missing sdp"}},

		// candidate.
		{name: "candidate without candidate", in: `{"type":"candidate","pc":"publish"}`, code: protocol.CodeBadMessage, want: []string{"candidate", "missing candidate"}},
		{name: "candidate with null candidate", in: `{"type":"candidate","pc":"publish","candidate":null}`, code: protocol.CodeBadMessage, want: []string{"candidate", "missing candidate"}},
		{name: "candidate with bad pc", in: `{"type":"candidate","pc":"pub","candidate":{"candidate":"c"}}`, code: protocol.CodeBadMessage, want: []string{"candidate", `pc must be "publish" or "subscribe"`}},
		{name: "candidate as a string", in: `{"type":"candidate","pc":"publish","candidate":"candidate:1 1 udp 1 192.0.2.1 1 typ host"}`, code: protocol.CodeBadMessage, want: []string{"invalid JSON", "candidate"}},

		// subscription and layers.
		{name: "subscription without track", in: `{"type":"subscription","participant_id":"p1"}`, code: protocol.CodeBadMessage, want: []string{"subscription", "participant_id and track_id are required"}},
		{name: "subscription without participant", in: `{"type":"subscription","track_id":"cam"}`, code: protocol.CodeBadMessage, want: []string{"subscription", "participant_id"}},
		{name: "subscription with a bad quality", in: `{"type":"subscription","participant_id":"p1","track_id":"cam","quality":"ultra"}`, code: protocol.CodeBadMessage, want: []string{"subscription", "quality", `"ultra"`}},
		{name: "subscription with a negative width", in: `{"type":"subscription","participant_id":"p1","track_id":"cam","width":-1,"height":10}`, code: protocol.CodeBadMessage, want: []string{"subscription", "width and height must be 0 to 16384"}},
		{name: "subscription with a huge height", in: `{"type":"subscription","participant_id":"p1","track_id":"cam","width":10,"height":100000}`, code: protocol.CodeBadMessage, want: []string{"height"}},
		{name: "subscription with fps 1000", in: `{"type":"subscription","participant_id":"p1","track_id":"cam","fps":1000}`, code: protocol.CodeBadMessage, want: []string{"fps must be 0 to 240"}},
		{name: "subscription with a fractional width", in: `{"type":"subscription","participant_id":"p1","track_id":"cam","width":1.5}`, code: protocol.CodeBadMessage, want: []string{"invalid JSON", "width"}},
		{name: "subscription with paused as a string", in: `{"type":"subscription","participant_id":"p1","track_id":"cam","paused":"yes"}`, code: protocol.CodeBadMessage, want: []string{"invalid JSON", "paused"}},
		{name: "layers without track", in: `{"type":"layers","layers":[]}`, code: protocol.CodeBadMessage, want: []string{"layers", "track_id"}},

		// chat.
		{name: "empty chat", in: `{"type":"chat","text":""}`, code: protocol.CodeBadMessage, want: []string{"chat", "text must be 1 to 4096 bytes"}},
		{name: "chat without text", in: `{"type":"chat"}`, code: protocol.CodeBadMessage, want: []string{"chat", "text"}},
		{name: "chat over 4096 bytes", in: `{"type":"chat","text":"` + strings.Repeat("x", 4097) + `"}`, code: protocol.CodeBadMessage, want: []string{"chat", "text must be 1 to 4096 bytes"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := protocol.Decode([]byte(tc.in))
			checkError(t, tc.in, got, err, tc.code, tc.want...)
		})
	}
}

// checkError checks that Decode(in) failed with an *Error of the given
// code whose message contains every one of want, and returned no message.
func checkError(t *testing.T, in string, got protocol.Message, err error, code string, want ...string) {
	t.Helper()
	shown := in
	if len(shown) > 80 {
		shown = shown[:80] + "..."
	}
	if err == nil {
		t.Fatalf("Decode(%s) = %#v, want a %s error", shown, got, code)
	}
	var pe *protocol.Error
	if !errors.As(err, &pe) {
		t.Fatalf("Decode(%s) error is %T (%v), want *protocol.Error", shown, err, err)
	}
	if pe.Code != code {
		t.Errorf("Decode(%s) code = %q (%s), want %q", shown, pe.Code, pe.Message, code)
	}
	for _, w := range want {
		if !strings.Contains(strings.ToLower(pe.Message), strings.ToLower(w)) {
			t.Errorf("Decode(%s) message %q does not mention %q", shown, pe.Message, w)
		}
	}
	if pe.Error() != pe.Code+": "+pe.Message {
		t.Errorf("Error() = %q, want code and message", pe.Error())
	}
	if !reflect.DeepEqual(got, protocol.Message{}) {
		t.Errorf("Decode(%s) failed but returned %#v, want the zero Message", shown, got)
	}
}

// Messages built the way the server and the client build them survive
// Encode and Decode unchanged, and encode to the documented field names.
func TestEncodeDecodeRoundTrip(t *testing.T) {
	cam := protocol.Track{ID: "cam", ParticipantID: "p1", Kind: "video", Codec: "video/VP8", Source: protocol.SourceCamera}
	ann := protocol.Participant{ID: "p1", Name: "ann", Tracks: []protocol.Track{cam}}
	tests := []struct {
		msg protocol.Message
		// json, if set, is the exact encoding.
		json string
	}{
		{msg: protocol.Message{Type: protocol.TypeJoin, Version: protocol.Version, Room: "demo", Name: "ann", Token: "t"},
			json: `{"type":"join","version":1,"room":"demo","name":"ann","token":"t"}`},
		{msg: protocol.Message{Type: protocol.TypeJoined, Version: protocol.Version, Room: "demo", ParticipantID: "p2", Participants: []protocol.Participant{ann}},
			json: `{"type":"joined","version":1,"room":"demo","participant_id":"p2","participants":[{"id":"p1","name":"ann","tracks":[{"id":"cam","participant_id":"p1","kind":"video","codec":"video/VP8","source":"camera","muted":false}]}]}`},
		{msg: protocol.Message{Type: protocol.TypeParticipantJoined, Participant: &protocol.Participant{ID: "p3", Name: "guest", Tracks: []protocol.Track{}}},
			json: `{"type":"participant_joined","participant":{"id":"p3","name":"guest","tracks":[]}}`},
		{msg: protocol.Message{Type: protocol.TypeParticipantLeft, ParticipantID: "p3"},
			json: `{"type":"participant_left","participant_id":"p3"}`},
		{msg: protocol.Message{Type: protocol.TypePublish, Track: &protocol.Track{ID: "cam", Kind: "video", Source: protocol.SourceCamera}},
			json: `{"type":"publish","track":{"id":"cam","kind":"video","source":"camera","muted":false}}`},
		{msg: protocol.Message{Type: protocol.TypeUnpublish, TrackID: "cam"},
			json: `{"type":"unpublish","track_id":"cam"}`},
		{msg: protocol.Message{Type: protocol.TypeTrackPublished, Track: &cam}},
		{msg: protocol.Message{Type: protocol.TypeTrackUnpublished, Track: &cam}},
		{msg: protocol.Message{Type: protocol.TypeMute, TrackID: "cam", Muted: ptr(false)},
			json: `{"type":"mute","track_id":"cam","muted":false}`},
		{msg: protocol.Message{Type: protocol.TypeTrackMuted, Track: &protocol.Track{ID: "mic", ParticipantID: "p1", Kind: "audio", Codec: "audio/opus", Source: protocol.SourceMicrophone, Muted: true}}},
		{msg: protocol.Message{Type: protocol.TypeOffer, PC: protocol.PCSubscribe, SDP: "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\n"},
			json: `{"type":"offer","pc":"subscribe","sdp":"v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\n"}`},
		{msg: protocol.Message{Type: protocol.TypeAnswer, PC: protocol.PCPublish, SDP: "v=0\r\n"}},
		{msg: protocol.Message{Type: protocol.TypeCandidate, PC: protocol.PCSubscribe, Candidate: &protocol.Candidate{
			Candidate: "candidate:1 1 udp 2130706431 192.0.2.1 50000 typ host", SDPMid: ptr("0"), SDPMLineIndex: ptr(uint16(0)),
		}}, json: `{"type":"candidate","pc":"subscribe","candidate":{"candidate":"candidate:1 1 udp 2130706431 192.0.2.1 50000 typ host","sdpMid":"0","sdpMLineIndex":0}}`},
		{msg: protocol.Message{Type: protocol.TypeCandidate, PC: protocol.PCPublish, Candidate: &protocol.Candidate{
			Candidate: "candidate:2 1 udp 1 192.0.2.2 9 typ host", UsernameFragment: ptr("uf"),
		}}},
		{msg: protocol.Message{Type: protocol.TypeChat, Text: "<hi & bye>\u2028 \"é\""}},
		// The server's chat: the sender without its tracks, which
		// encodes as "tracks":null.
		{msg: protocol.Message{Type: protocol.TypeChat, Text: "hi", From: &protocol.Participant{ID: "p1", Name: "ann"}, TimeMS: 1767225600000},
			json: `{"type":"chat","text":"hi","from":{"id":"p1","name":"ann","tracks":null},"time_ms":1767225600000}`},
		{msg: protocol.Message{Type: protocol.TypeLeave}, json: `{"type":"leave"}`},
		{msg: protocol.Message{Type: protocol.TypeLeave, Code: protocol.CodeServerShutdown, Reason: "the server is shutting down"},
			json: `{"type":"leave","code":"server_shutdown","message":"the server is shutting down"}`},
		{msg: protocol.ErrorMessage(protocol.Errorf(protocol.CodeUnknownTrack, "mute %s: no such track", "x")),
			json: `{"type":"error","code":"unknown_track","message":"mute x: no such track"}`},
		{msg: protocol.Message{Type: protocol.TypeKeepalive}, json: `{"type":"keepalive"}`},
	}
	for _, tc := range tests {
		t.Run(tc.msg.Type, func(t *testing.T) {
			b, err := protocol.Encode(tc.msg)
			if err != nil {
				t.Fatalf("Encode(%#v): %v", tc.msg, err)
			}
			if tc.json != "" && string(b) != tc.json {
				t.Errorf("Encode(%#v)\n got %s\nwant %s", tc.msg, b, tc.json)
			}
			got, err := protocol.Decode(b)
			if err != nil {
				t.Fatalf("Decode(%s): %v", b, err)
			}
			if !reflect.DeepEqual(got, tc.msg) {
				t.Fatalf("round trip of %s\n got %#v\nwant %#v", b, got, tc.msg)
			}
		})
	}
}

// The server sends "joined" with an empty, non-nil participants list when
// the room was empty: omitempty drops it from the JSON, so the client
// decodes a nil list. Clients must treat a missing "participants" as none.
func TestJoinedAloneOmitsParticipants(t *testing.T) {
	m := protocol.Message{Type: protocol.TypeJoined, Version: 1, Room: "demo", ParticipantID: "p1", Participants: []protocol.Participant{}}
	b, err := protocol.Encode(m)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"type":"joined","version":1,"room":"demo","participant_id":"p1"}`; string(b) != want {
		t.Fatalf("Encode = %s, want %s", b, want)
	}
	got, err := protocol.Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	if got.Participants != nil {
		t.Fatalf("participants = %#v, want nil", got.Participants)
	}
}

// Encode escapes what Decode accepted unescaped (HTML characters, U+2028)
// and replaces invalid UTF-8 with U+FFFD, so the encoding of a message
// Decode accepted can be larger than the input, past MaxMessageSize.
func TestEncodeMayOutgrowTheLimit(t *testing.T) {
	head, tail := `{"type":"offer","pc":"publish","sdp":"`, `"}`
	in := head + strings.Repeat("<", protocol.MaxMessageSize-len(head)-len(tail)) + tail
	m, err := protocol.Decode([]byte(in))
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	b, err := protocol.Encode(m)
	if err != nil {
		t.Fatalf("Encode: %v", err)
	}
	if len(b) <= protocol.MaxMessageSize {
		t.Fatalf("encoding is %d bytes; expected it to grow past %d", len(b), protocol.MaxMessageSize)
	}
	_, err = protocol.Decode(b)
	var pe *protocol.Error
	if !errors.As(err, &pe) || pe.Code != protocol.CodeTooLarge {
		t.Fatalf("Decode of the %d-byte re-encoding: %v, want too_large", len(b), err)
	}
}

func TestErrorMessage(t *testing.T) {
	m := protocol.ErrorMessage(fmt.Errorf("wrapped: %w", protocol.Errorf(protocol.CodeBadSDP, "bad %s", "offer")))
	if want := (protocol.Message{Type: protocol.TypeError, Code: protocol.CodeBadSDP, Reason: "bad offer"}); !reflect.DeepEqual(m, want) {
		t.Errorf("ErrorMessage of a wrapped *Error = %#v, want %#v", m, want)
	}
	m = protocol.ErrorMessage(errors.New("disk on fire"))
	if want := (protocol.Message{Type: protocol.TypeError, Code: protocol.CodeInternal, Reason: "disk on fire"}); !reflect.DeepEqual(m, want) {
		t.Errorf("ErrorMessage of a plain error = %#v, want %#v", m, want)
	}
}

// normalize maps the one difference Encode legitimately loses: an empty,
// non-nil participants list is omitted (omitempty) and so decodes as nil.
func normalize(m protocol.Message) protocol.Message {
	if len(m.Participants) == 0 {
		m.Participants = nil
	}
	return m
}

// decodeErrorCodes are the only codes Decode itself may return.
var decodeErrorCodes = map[string]bool{
	protocol.CodeBadMessage:  true,
	protocol.CodeUnknownType: true,
	protocol.CodeTooLarge:    true,
}

// FuzzDecode checks that Decode never panics, that it fails only with an
// *Error carrying one of its codes, and that whatever it accepts survives
// Encode and Decode: the same message (up to normalize), and the same
// bytes when encoded again.
func FuzzDecode(f *testing.F) {
	for _, tc := range validMessages {
		// Long seeds (the size-limit cases, tested above) make the
		// fuzzer spend its time minimizing them rather than fuzzing.
		if len(tc.in) <= 512 {
			f.Add([]byte(tc.in))
		}
	}
	for _, s := range []string{
		``, `null`, `{}`, `[]`, `{"type":"join",`, `{"type":"leave"} x`, `{"type":"leave"}}`,
		`{"type":"teleport"}`, `{"type":"leave","colour":"red"}`,
		`{"type":"join","room":"demo","participants":[]}`,
		`{"TYPE":"chat","Text":"case"}`,
		`{"type":"chat","text":"a","type":"leave"}`,
		`{"type":"publish","track":{"id":"a","kind":"video"},"track":{"source":"screen"}}`,
		"{\"type\":\"chat\",\"text\":\"\xff\xfe<>&\u2028\"}",
		`{"type":"chat","text":"\ud800"}`,
		`{"type":"candidate","pc":"publish","candidate":{}}`,
		`{"type":"mute","track_id":"m","muted":null}`,
		`{"type":"joined","time_ms":-9223372036854775808,"version":-1}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := protocol.Decode(data)
		if err != nil {
			var pe *protocol.Error
			if !errors.As(err, &pe) {
				t.Fatalf("Decode error is %T (%v), want *protocol.Error", err, err)
			}
			if !decodeErrorCodes[pe.Code] || pe.Message == "" {
				t.Fatalf("Decode error %q: unexpected code or empty message", pe.Error())
			}
			if !reflect.DeepEqual(m, protocol.Message{}) {
				t.Fatalf("Decode failed (%v) but returned %#v", err, m)
			}
			return
		}
		if m.Type == "" {
			t.Fatalf("Decode accepted a message without a type: %#v", m)
		}
		b, err := protocol.Encode(m)
		if err != nil {
			t.Fatalf("Encode(%#v) after Decode(%q): %v", m, data, err)
		}
		m2, err := protocol.Decode(b)
		if len(b) > protocol.MaxMessageSize {
			// Encode escapes <, >, &, U+2028 and U+2029 and turns
			// invalid UTF-8 into U+FFFD, so the encoding can outgrow
			// the input; then Decode must say too_large.
			var pe *protocol.Error
			if !errors.As(err, &pe) || pe.Code != protocol.CodeTooLarge {
				t.Fatalf("Decode of a %d-byte encoding: %v, want too_large", len(b), err)
			}
			return
		}
		if err != nil {
			t.Fatalf("Decode(Encode(Decode(%q))) = %v\nencoding: %s", data, err, b)
		}
		if !reflect.DeepEqual(normalize(m), normalize(m2)) {
			t.Fatalf("round trip changed the message\ninput: %q\nfirst:  %#v\nsecond: %#v", data, m, m2)
		}
		b2, err := protocol.Encode(m2)
		if err != nil {
			t.Fatalf("second Encode: %v", err)
		}
		if !bytes.Equal(b, b2) {
			t.Fatalf("encoding is not stable\nfirst:  %s\nsecond: %s", b, b2)
		}
	})
}
