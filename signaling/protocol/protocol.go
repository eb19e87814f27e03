// Package protocol defines Prism's WebSocket signaling messages: their Go
// types, their JSON encoding and a decoder for untrusted input that is
// strict about what it knows and ignores what it does not (so that fields
// added later never break an older server or client).
//
// Every message is one JSON object with a "type" field. The first message a
// client sends is "join", which carries the protocol version. The messages,
// with examples, are described in signaling/PROTOCOL.md.
package protocol

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// Version is the protocol version this package speaks. A join with another
// version is refused with CodeUnsupportedVersion.
const Version = 1

// MaxMessageSize is the largest message, in bytes, that a peer may send.
// Larger messages are refused with CodeTooLarge. An answer on the
// subscribe connection grows by about 1.3 KB per track, so this allows
// rooms of well over a hundred tracks.
const MaxMessageSize = 256 << 10

// Message types. The direction each one travels is given in PROTOCOL.md.
const (
	TypeJoin              = "join"
	TypeJoined            = "joined"
	TypeParticipantJoined = "participant_joined"
	TypeParticipantLeft   = "participant_left"
	TypePublish           = "publish"
	TypeUnpublish         = "unpublish"
	TypeTrackPublished    = "track_published"
	TypeTrackUnpublished  = "track_unpublished"
	TypeMute              = "mute"
	TypeTrackMuted        = "track_muted"
	TypeOffer             = "offer"
	TypeAnswer            = "answer"
	TypeCandidate         = "candidate"
	TypeChat              = "chat"
	TypeLeave             = "leave"
	TypeError             = "error"
	TypeKeepalive         = "keepalive"
	TypeSubscription      = "subscription"
	TypeLayers            = "layers"
)

// Qualities a subscription may cap a track at.
const (
	QualityLow    = "low"
	QualityMedium = "medium"
	QualityHigh   = "high"
)

// Peer connection names used in the "pc" field of offer, answer and candidate.
// The client offers on PCPublish; the server offers on PCSubscribe.
const (
	PCPublish   = "publish"
	PCSubscribe = "subscribe"
)

// Track sources.
const (
	SourceCamera      = "camera"
	SourceMicrophone  = "microphone"
	SourceScreen      = "screen"
	SourceScreenAudio = "screen_audio"
)

// Error codes carried in an error message's "code" field.
const (
	CodeBadMessage         = "bad_message"
	CodeUnknownType        = "unknown_type"
	CodeTooLarge           = "too_large"
	CodeUnsupportedVersion = "unsupported_version"
	CodeNotJoined          = "not_joined"
	CodeAlreadyJoined      = "already_joined"
	CodeBadSDP             = "bad_sdp"
	CodeBadCandidate       = "bad_candidate"
	CodeUnknownTrack       = "unknown_track"
	CodeRateLimited        = "rate_limited"
	CodeForbidden          = "forbidden"
	CodeNegotiationFailed  = "negotiation_failed"
	CodeServerShutdown     = "server_shutdown"
	CodeInternal           = "internal"
)

// Track describes one published track as the participants of a room see it.
type Track struct {
	// ID is the track's identifier: the publisher's MediaStreamTrack id, and
	// the id of the track the subscriber receives.
	ID string `json:"id"`
	// ParticipantID is the publisher. The subscriber's stream id equals it.
	ParticipantID string `json:"participant_id,omitempty"`
	// Kind is "audio" or "video".
	Kind string `json:"kind"`
	// Codec is the negotiated MIME type, such as "video/VP8"; empty until
	// media flows.
	Codec string `json:"codec,omitempty"`
	// Source is camera, microphone, screen or screen_audio.
	Source string `json:"source"`
	// Muted is true while the publisher has muted the track.
	Muted bool `json:"muted"`
}

// Participant describes one member of a room.
type Participant struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	// Metadata is what the participant gave at join, opaque to Prism.
	Metadata string  `json:"metadata,omitempty"`
	Tracks   []Track `json:"tracks"`
}

// Layer is one stream of a published track in a layers message: a
// simulcast encoding by rid ("" for the single stream), and whether the
// publisher should send it.
type Layer struct {
	RID    string `json:"rid"`
	Active bool   `json:"active"`
}

// Candidate is a trickled ICE candidate, as in RTCIceCandidateInit.
type Candidate struct {
	Candidate        string  `json:"candidate"`
	SDPMid           *string `json:"sdpMid,omitempty"`
	SDPMLineIndex    *uint16 `json:"sdpMLineIndex,omitempty"`
	UsernameFragment *string `json:"usernameFragment,omitempty"`
}

// Message is the union of every message type. Only the fields of its Type
// are meaningful; the rest stay empty and are omitted from the JSON.
type Message struct {
	Type string `json:"type"`

	// join, joined
	Version  int    `json:"version,omitempty"`
	Room     string `json:"room,omitempty"`
	Name     string `json:"name,omitempty"`
	Metadata string `json:"metadata,omitempty"`
	Token    string `json:"token,omitempty"`

	// joined: own id and the others already in the room.
	ParticipantID string        `json:"participant_id,omitempty"`
	Participants  []Participant `json:"participants,omitempty"`

	// participant_joined
	Participant *Participant `json:"participant,omitempty"`

	// publish, unpublish, track_published, track_unpublished, track_muted
	Track *Track `json:"track,omitempty"`

	// mute: TrackID and Muted.
	TrackID string `json:"track_id,omitempty"`
	Muted   *bool  `json:"muted,omitempty"`

	// offer, answer, candidate
	PC        string     `json:"pc,omitempty"`
	SDP       string     `json:"sdp,omitempty"`
	Candidate *Candidate `json:"candidate,omitempty"`

	// subscription: ParticipantID and TrackID name the track; the rest is
	// what the subscriber wants of it.
	Paused  bool   `json:"paused,omitempty"`
	Quality string `json:"quality,omitempty"`
	Width   int    `json:"width,omitempty"`
	Height  int    `json:"height,omitempty"`
	FPS     int    `json:"fps,omitempty"`

	// layers: TrackID (the publisher's own) and its streams.
	Layers []Layer `json:"layers,omitempty"`

	// chat: Text, and From on the way out.
	Text string       `json:"text,omitempty"`
	From *Participant `json:"from,omitempty"`
	// TimeMS is the server's time, in Unix milliseconds, on chat messages.
	TimeMS int64 `json:"time_ms,omitempty"`

	// error, leave (from the server): Code and a human-readable Message.
	Code   string `json:"code,omitempty"`
	Reason string `json:"message,omitempty"`
}

// Error is a decoding or protocol error with the code to report to the peer.
type Error struct {
	Code    string
	Message string
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// Errorf returns an *Error with the given code and formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorMessage returns the error message to send to a peer for err. An
// *Error keeps its code; any other error is reported as CodeInternal.
func ErrorMessage(err error) Message {
	var pe *Error
	if errors.As(err, &pe) {
		return Message{Type: TypeError, Code: pe.Code, Reason: pe.Message}
	}
	return Message{Type: TypeError, Code: CodeInternal, Reason: err.Error()}
}

// Limits on the fields of incoming messages.
const (
	maxNameLen     = 64
	maxRoomLen     = 128
	maxIDLen       = 128
	maxTextLen     = 4096
	maxTokenLen    = 4096
	maxMetadataLen = 4096
	maxPixels      = 16384
	maxFPS         = 240
)

// Decode parses and validates one message from a peer. It rejects input
// over MaxMessageSize, malformed JSON, fields of the wrong type, unknown
// types and messages missing the fields their type requires, each with an
// *Error that says what was wrong. Fields it does not know are ignored:
// a newer peer may send fields this version has never heard of.
func Decode(data []byte) (Message, error) {
	var m Message
	if len(data) > MaxMessageSize {
		return m, Errorf(CodeTooLarge, "message is %d bytes; the limit is %d", len(data), MaxMessageSize)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&m); err != nil {
		return Message{}, Errorf(CodeBadMessage, "invalid JSON: %v", err)
	}
	if rest := bytes.TrimSpace(data[dec.InputOffset():]); len(rest) > 0 {
		return Message{}, Errorf(CodeBadMessage, "invalid JSON: trailing data after the message")
	}
	if err := m.validate(); err != nil {
		return Message{}, err
	}
	return m, nil
}

// Encode returns the JSON encoding of m.
func Encode(m Message) ([]byte, error) {
	return json.Marshal(m)
}

func (m *Message) validate() error {
	switch m.Type {
	case "":
		return Errorf(CodeBadMessage, `missing "type"`)
	case TypeJoin:
		if m.Room == "" || len(m.Room) > maxRoomLen {
			return Errorf(CodeBadMessage, "join: room must be 1 to %d bytes", maxRoomLen)
		}
		if len(m.Name) > maxNameLen {
			return Errorf(CodeBadMessage, "join: name is over %d bytes", maxNameLen)
		}
		if len(m.Token) > maxTokenLen {
			return Errorf(CodeBadMessage, "join: token is over %d bytes", maxTokenLen)
		}
		if len(m.Metadata) > maxMetadataLen {
			return Errorf(CodeBadMessage, "join: metadata is over %d bytes", maxMetadataLen)
		}
	case TypePublish:
		if m.Track == nil || m.Track.ID == "" || len(m.Track.ID) > maxIDLen {
			return Errorf(CodeBadMessage, "publish: track.id must be 1 to %d bytes", maxIDLen)
		}
		if m.Track.Kind != "audio" && m.Track.Kind != "video" {
			return Errorf(CodeBadMessage, `publish: track.kind must be "audio" or "video"`)
		}
		switch m.Track.Source {
		case "", SourceCamera, SourceMicrophone, SourceScreen, SourceScreenAudio:
		default:
			return Errorf(CodeBadMessage, "publish: unknown track.source %q", m.Track.Source)
		}
	case TypeUnpublish:
		if m.TrackID == "" {
			return Errorf(CodeBadMessage, "unpublish: missing track_id")
		}
	case TypeMute:
		if m.TrackID == "" || m.Muted == nil {
			return Errorf(CodeBadMessage, "mute: track_id and muted are required")
		}
	case TypeOffer, TypeAnswer:
		if m.PC != PCPublish && m.PC != PCSubscribe {
			return Errorf(CodeBadMessage, "%s: pc must be %q or %q", m.Type, PCPublish, PCSubscribe)
		}
		if m.SDP == "" {
			return Errorf(CodeBadMessage, "%s: missing sdp", m.Type)
		}
	case TypeCandidate:
		if m.PC != PCPublish && m.PC != PCSubscribe {
			return Errorf(CodeBadMessage, "candidate: pc must be %q or %q", PCPublish, PCSubscribe)
		}
		if m.Candidate == nil {
			return Errorf(CodeBadMessage, "candidate: missing candidate")
		}
	case TypeChat:
		if m.Text == "" || len(m.Text) > maxTextLen {
			return Errorf(CodeBadMessage, "chat: text must be 1 to %d bytes", maxTextLen)
		}
	case TypeSubscription:
		return m.validateSubscription()
	case TypeLeave, TypeKeepalive:
	case TypeLayers:
		if m.TrackID == "" {
			return Errorf(CodeBadMessage, "layers: missing track_id")
		}
	case TypeJoined, TypeParticipantJoined, TypeParticipantLeft, TypeTrackPublished,
		TypeTrackUnpublished, TypeTrackMuted, TypeError:
		// Server-to-client messages; the Go client decodes them with this
		// function too, so they are valid here. The server refuses them.
	default:
		return Errorf(CodeUnknownType, "unknown message type %q", m.Type)
	}
	return nil
}

func (m *Message) validateSubscription() error {
	if m.ParticipantID == "" || m.TrackID == "" {
		return Errorf(CodeBadMessage, "subscription: participant_id and track_id are required")
	}
	switch m.Quality {
	case "", QualityLow, QualityMedium, QualityHigh:
	default:
		return Errorf(CodeBadMessage, "subscription: quality must be %q, %q or %q, not %q", QualityLow, QualityMedium, QualityHigh, m.Quality)
	}
	if m.Width < 0 || m.Height < 0 || m.Width > maxPixels || m.Height > maxPixels {
		return Errorf(CodeBadMessage, "subscription: width and height must be 0 to %d", maxPixels)
	}
	if m.FPS < 0 || m.FPS > maxFPS {
		return Errorf(CodeBadMessage, "subscription: fps must be 0 to %d", maxFPS)
	}
	return nil
}
