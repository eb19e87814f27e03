package sfu

import "time"

// Identity says who a member of a room is. Auth will fill it from a token;
// until then the front end does, and everything is allowed.
type Identity struct {
	// ID is unique within the room. Empty: the SFU assigns one.
	ID string
	// Name is what the others are shown.
	Name string
	// Metadata is opaque to Prism; every member sees it.
	Metadata string
	// Permissions say what the member may do.
	Permissions Permissions
}

// Permissions say what a member may do in its room.
type Permissions struct {
	// Publish allows publishing tracks.
	Publish bool
	// Subscribe allows receiving other members' tracks.
	Subscribe bool
	// PublishData allows sending chat and, later, data-channel messages.
	PublishData bool
}

// AllowAll is every permission: what members get until auth exists.
func AllowAll() Permissions {
	return Permissions{Publish: true, Subscribe: true, PublishData: true}
}

// Member is one participant of a room, whatever its front end: a WebSocket
// client (Participant), and later a WHIP publisher, a WHEP viewer, a
// recorder or a relay to another node. The room tells it what happens
// through Notify; it publishes with Room.Publish and subscribes through its
// Transport.
type Member interface {
	// Identity returns who the member is; it never changes.
	Identity() Identity
	// Notify tells the member of a change in its room. The room calls it
	// from its own goroutines, never while holding a lock the member could
	// need; it must return quickly (queue the news, don't do I/O).
	Notify(Event)
	// Leave asks the member to go, for reason (the server is shutting
	// down): it closes what it holds and calls Room.Leave.
	Leave(reason error)
}

// EventKind says what an Event reports.
type EventKind uint8

// The room events.
const (
	// EventJoined: Participant joined the room.
	EventJoined EventKind = iota + 1
	// EventLeft: Participant (only its ID is set) left.
	EventLeft
	// EventTrackPublished: Track was published; Source is the track, to
	// subscribe to.
	EventTrackPublished
	// EventTrackUnpublished: Track is no longer published.
	EventTrackUnpublished
	// EventTrackMuted: Track was muted or unmuted (Track.Muted says which).
	EventTrackMuted
	// EventChat: Participant (without its tracks) sent Text at At.
	EventChat
)

// Event is one change in a room, as Member.Notify hears it. Only the fields
// of its Kind are set.
type Event struct {
	Kind        EventKind
	Participant ParticipantInfo
	Track       TrackInfo
	// Source is the published track, for EventTrackPublished and
	// EventTrackUnpublished.
	Source *Track
	Text   string
	At     time.Time
}

// Track sources a publisher may declare.
const (
	SourceCamera      = "camera"
	SourceMicrophone  = "microphone"
	SourceScreen      = "screen"
	SourceScreenAudio = "screen_audio"
)

// TrackInfo describes a published track.
type TrackInfo struct {
	// ID is the publisher's track id; subscribers receive the track under
	// the same id, in a stream whose id is ParticipantID.
	ID            string
	ParticipantID string
	// Kind is "audio" or "video".
	Kind string
	// Codec is the MIME type, such as "video/VP8"; empty until media flows.
	Codec  string
	Source string
	Muted  bool
	// Layers is the number of streams the track has: 1, or up to 3 for a
	// simulcast publisher.
	Layers int
}

// ParticipantInfo describes a member of a room.
type ParticipantInfo struct {
	ID       string
	Name     string
	Metadata string
	Tracks   []TrackInfo
}
