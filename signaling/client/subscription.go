package client

import "github.com/prismsfu/prism/signaling/protocol"

// Subscription is what the client wants of one track it receives. The
// zero value is Prism's default: the best layer, every frame.
type Subscription struct {
	// Paused stops the track; resumed, it restarts at a keyframe.
	Paused bool
	// Quality caps the simulcast layer: "low", "medium", "high" or ""
	// (no cap).
	Quality string
	// Width and Height are the size the video is shown at: Prism forwards
	// the smallest layer that fills it. 0: no cap.
	Width, Height int
	// FPS caps the frame rate, through temporal layers. 0: no cap.
	FPS int
}

// SetSubscription tells Prism what the client wants of the track trackID
// of participant participantID. Each call replaces the last.
func (c *Client) SetSubscription(participantID, trackID string, s Subscription) error {
	return c.Send(protocol.Message{
		Type: protocol.TypeSubscription, ParticipantID: participantID, TrackID: trackID,
		Paused: s.Paused, Quality: s.Quality, Width: s.Width, Height: s.Height, FPS: s.FPS,
	})
}
