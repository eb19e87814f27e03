package sfu

import (
	"errors"
	"fmt"
	"sync"
	"time"
)

// Errors of room membership.
var (
	// ErrIdentityInUse is returned by Join when a member with the same ID
	// is already in the room.
	ErrIdentityInUse = errors.New("identity already in the room")
	// ErrForbidden wraps a request the member's permissions do not allow.
	ErrForbidden = errors.New("forbidden")
)

// Room is a set of members who receive each other's tracks. It opens with
// its first member and closes when the last one leaves.
//
// It has two layers. Presence (who is here, chat) is the members and their
// events. Beneath it, the router is the media side: the published tracks.
// Both are guarded by one lock, so a member that joins either finds a track
// in its snapshot or hears of it, never both and never neither.
type Room struct {
	sfu *SFU
	id  string

	mu      sync.Mutex
	members map[string]Member
	order   []string // member IDs in join order
	router  router
}

// router holds the tracks a room's members publish: the media side of a
// room, beneath its presence. Guarded by Room.mu.
type router struct {
	tracks []*Track // in publish order
}

func newRoom(s *SFU, id string) *Room {
	return &Room{sfu: s, id: id, members: make(map[string]Member)}
}

// ID returns the room's name.
func (r *Room) ID() string { return r.id }

// Snapshot is what a member finds when it joins: the others and their
// tracks. Others are the members to tell of the join.
type Snapshot struct {
	Participants []ParticipantInfo
	Tracks       []*Track
	others       []Member
}

// admit makes m a member and returns what was there before it. The caller
// tells the others with announce, outside every lock.
func (r *Room) admit(m Member) (Snapshot, error) {
	id := m.Identity()
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, taken := r.members[id.ID]; taken {
		return Snapshot{}, fmt.Errorf("join %s as %q: %w", r.id, id.ID, ErrIdentityInUse)
	}
	snap := Snapshot{Participants: r.infosLocked(), Tracks: append([]*Track(nil), r.router.tracks...), others: r.membersLocked()}
	r.members[id.ID] = m
	r.order = append(r.order, id.ID)
	return snap, nil
}

// announce tells the members that were there when m was admitted that it
// joined; whoever joined since found m in its snapshot.
func (r *Room) announce(m Member, snap Snapshot) {
	notify(snap.others, Event{Kind: EventJoined, Participant: r.Info(m.Identity().ID)})
}

// Leave takes m out of the room, withdraws the tracks it still publishes
// and tells the others. The room closes once empty.
func (r *Room) Leave(m Member) {
	id := m.Identity().ID
	r.mu.Lock()
	if r.members[id] != m {
		r.mu.Unlock()
		return
	}
	delete(r.members, id)
	for i, x := range r.order {
		if x == id {
			r.order = append(r.order[:i], r.order[i+1:]...)
			break
		}
	}
	var theirs []*Track
	for _, t := range r.router.tracks {
		if t.owner == m {
			theirs = append(theirs, t)
		}
	}
	others := r.membersLocked()
	r.mu.Unlock()
	for _, t := range theirs {
		r.Unpublish(t)
	}
	notify(others, Event{Kind: EventLeft, Participant: ParticipantInfo{ID: id}})
	r.sfu.dropRoomIfEmpty(r)
}

// Publish adds t, a track of its owner, and tells every other member, who
// may subscribe to it. The members told are those of the moment the track
// was added: one that joins later finds it in its snapshot instead.
func (r *Room) Publish(t *Track) error {
	if !t.owner.Identity().Permissions.Publish {
		return fmt.Errorf("publish %s: %w: no publish permission", t.ID(), ErrForbidden)
	}
	r.mu.Lock()
	if r.members[t.owner.Identity().ID] != t.owner || t.IsClosed() {
		r.mu.Unlock()
		return fmt.Errorf("publish %s: %w", t.ID(), ErrParticipantClosed)
	}
	r.router.tracks = append(r.router.tracks, t)
	others := r.othersLocked(t.owner)
	r.mu.Unlock()
	notify(others, Event{Kind: EventTrackPublished, Track: t.Info(), Source: t})
	return nil
}

// Unpublish withdraws t and tells every other member.
func (r *Room) Unpublish(t *Track) {
	r.mu.Lock()
	found := false
	for i, x := range r.router.tracks {
		if x == t {
			r.router.tracks = append(r.router.tracks[:i], r.router.tracks[i+1:]...)
			found = true
			break
		}
	}
	others := r.othersLocked(t.owner)
	r.mu.Unlock()
	if found {
		notify(others, Event{Kind: EventTrackUnpublished, Track: t.Info(), Source: t})
	}
}

// TrackMuted tells every other member that t was muted or unmuted.
func (r *Room) TrackMuted(t *Track) {
	r.mu.Lock()
	others := r.othersLocked(t.owner)
	r.mu.Unlock()
	notify(others, Event{Kind: EventTrackMuted, Track: t.Info(), Source: t})
}

// Chat relays text from a member to every member, the sender included.
func (r *Room) Chat(from Member, text string) error {
	id := from.Identity()
	if !id.Permissions.PublishData {
		return fmt.Errorf("chat: %w: no data permission", ErrForbidden)
	}
	ev := Event{Kind: EventChat, Participant: ParticipantInfo{ID: id.ID, Name: id.Name, Metadata: id.Metadata}, Text: text, At: time.Now()}
	notify(r.Members(), ev)
	return nil
}

// Members returns the room's members, in join order.
func (r *Room) Members() []Member {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.membersLocked()
}

func (r *Room) membersLocked() []Member {
	out := make([]Member, 0, len(r.order))
	for _, id := range r.order {
		out = append(out, r.members[id])
	}
	return out
}

// othersLocked returns every member but except.
func (r *Room) othersLocked(except Member) []Member {
	out := make([]Member, 0, len(r.order))
	for _, id := range r.order {
		if m := r.members[id]; m != except {
			out = append(out, m)
		}
	}
	return out
}

// Info describes the member id and the tracks it publishes.
func (r *Room) Info(id string) ParticipantInfo {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.infoLocked(id)
}

func (r *Room) infoLocked(id string) ParticipantInfo {
	m := r.members[id]
	if m == nil {
		return ParticipantInfo{ID: id}
	}
	ident := m.Identity()
	info := ParticipantInfo{ID: ident.ID, Name: ident.Name, Metadata: ident.Metadata, Tracks: []TrackInfo{}}
	for _, t := range r.router.tracks {
		if t.owner == m {
			info.Tracks = append(info.Tracks, t.Info())
		}
	}
	return info
}

func (r *Room) infosLocked() []ParticipantInfo {
	out := make([]ParticipantInfo, 0, len(r.order))
	for _, id := range r.order {
		out = append(out, r.infoLocked(id))
	}
	return out
}

// Tracks returns the published tracks, in publish order.
func (r *Room) Tracks() []*Track {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*Track(nil), r.router.tracks...)
}

// notify tells each of members of ev, outside the room's lock.
func notify(members []Member, ev Event) {
	for _, m := range members {
		m.Notify(ev)
	}
}

func (r *Room) empty() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.members) == 0
}
