package e2e

import (
	"net/url"
	"testing"
	"time"

	"github.com/prismsfu/prism/internal/testenv"
)

// A broadcast viewer joins with publish=0: no camera, no microphone, no
// publish connection offer; it decodes the anchor's video and receives its
// audio, and the anchor sees no media from it.
func TestBrowserViewer(t *testing.T) {
	b := startBrowser(t)
	srv := testenv.StartServer(t, testenv.Options{})
	anchor := b.open(t, "Anchor", pageURL(srv.HTTPURL, "broadcast", "Anchor", testVideo))
	anchorID := anchor.joined(t)
	viewer := b.open(t, "Viewer", pageURL(srv.HTTPURL, "broadcast", "Viewer", url.Values{"publish": {"0"}}))
	viewerID := viewer.joined(t)
	d := waitFlowing(t, viewer, avFrom(anchorID), 15*time.Second, 0)
	t.Logf("viewer receives the anchor's media after %v", d.Round(time.Millisecond))
	for key := range anchor.media(t) {
		if len(key) > len(viewerID) && key[:len(viewerID)+1] == viewerID+":" {
			t.Fatalf("the anchor receives media %s from a viewer that should publish nothing", key)
		}
	}
}
