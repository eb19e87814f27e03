package sfu

import (
	"sync"
	"time"
)

// Room is a set of participants who receive each other's tracks. It opens
// with its first participant and closes when the last one leaves.
type Room struct {
	sfu *SFU
	id  string

	mu      sync.Mutex
	members map[string]*Participant
	// tracks are the receivers of every published track, in publish order.
	tracks []*Receiver
}

func newRoom(s *SFU, id string) *Room {
	return &Room{sfu: s, id: id, members: make(map[string]*Participant)}
}

// ID returns the room's name.
func (r *Room) ID() string { return r.id }

// admit makes p a member and returns the members and tracks that were
// there before it. The caller then calls welcome, outside its locks.
func (r *Room) admit(p *Participant) ([]*Participant, []*Receiver) {
	r.mu.Lock()
	defer r.mu.Unlock()
	others := r.membersLocked()
	tracks := append([]*Receiver(nil), r.tracks...)
	r.members[p.id] = p
	return others, tracks
}

// welcome tells the others about p, subscribes p to every published track
// and returns what p must be told about the others.
func (r *Room) welcome(p *Participant, others []*Participant, tracks []*Receiver) []ParticipantInfo {
	infos := make([]ParticipantInfo, 0, len(others))
	me := p.Info()
	for _, o := range others {
		infos = append(infos, o.Info())
		o.events.ParticipantJoined(me)
	}
	for _, t := range tracks {
		p.subscribe(t)
	}
	return infos
}

// remove takes p out of the room and tells the others. The room closes
// once empty.
func (r *Room) remove(p *Participant) {
	r.mu.Lock()
	if r.members[p.id] != p {
		r.mu.Unlock()
		return
	}
	delete(r.members, p.id)
	others := r.membersLocked()
	r.mu.Unlock()
	for _, o := range others {
		o.events.ParticipantLeft(p.id)
	}
	r.sfu.dropRoomIfEmpty(r)
}

// publish adds a published track and subscribes every other member to it.
func (r *Room) publish(t *Receiver) {
	r.mu.Lock()
	r.tracks = append(r.tracks, t)
	others := r.membersLocked()
	r.mu.Unlock()
	info := t.Info()
	for _, o := range others {
		if o == t.owner {
			continue
		}
		o.events.TrackPublished(info)
		o.subscribe(t)
	}
}

// unpublish removes a published track from every subscriber.
func (r *Room) unpublish(t *Receiver) {
	r.mu.Lock()
	found := false
	for i, x := range r.tracks {
		if x == t {
			r.tracks = append(r.tracks[:i], r.tracks[i+1:]...)
			found = true
			break
		}
	}
	others := r.membersLocked()
	r.mu.Unlock()
	if !found {
		return
	}
	info := t.Info()
	for _, o := range others {
		if o == t.owner {
			continue
		}
		o.unsubscribe(t)
		o.events.TrackUnpublished(info)
	}
}

// trackMuted tells every other member that t was muted or unmuted.
func (r *Room) trackMuted(t *Receiver) {
	info := t.Info()
	for _, o := range r.participants() {
		if o != t.owner {
			o.events.TrackMuted(info)
		}
	}
}

// chat relays a chat message to every member, the sender included.
func (r *Room) chat(from *Participant, text string) {
	info, now := from.Info(), time.Now()
	info.Tracks = nil
	for _, o := range r.participants() {
		o.events.Chat(info, text, now)
	}
}

func (r *Room) participants() []*Participant {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.membersLocked()
}

func (r *Room) membersLocked() []*Participant {
	out := make([]*Participant, 0, len(r.members))
	for _, p := range r.members {
		out = append(out, p)
	}
	return out
}

func (r *Room) empty() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.members) == 0
}
