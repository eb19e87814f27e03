package e2e

import (
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/prismsfu/prism/internal/testenv"
)

// A broadcast viewer joins with publish=0: no camera, no microphone, no
// publish connection offer; it decodes the anchor's video and receives its
// audio, and the anchor sees no media from it.
//
// Its subscribe connection also negotiates the transport-wide sequence
// number extension that Prism offers and stamps on every packet, and
// Chromium sends transport-wide congestion-control feedback, which Prism
// receives and matches against what it sent: what the bandwidth estimator
// will work from.
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

	const ext = "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01"
	sdp := eval[struct{ Offer, Answer string }](t, viewer,
		`({offer: window.prismTest.room.subscribePC.remoteDescription.sdp, answer: window.prismTest.room.subscribePC.localDescription.sdp})`)
	for name, s := range map[string]string{"Prism's offer": sdp.Offer, "Chromium's answer": sdp.Answer} {
		if !strings.Contains(s, ext) {
			t.Fatalf("%s on the subscribe connection has no transport-wide-cc extension", name)
		}
	}
	var st string
	waitUntil(t, 10*time.Second, 100*time.Millisecond, "TWCC feedback from Chromium", func() string {
		for _, tr := range srv.SFU.Stats().Each {
			if tr.TWCCFeedback >= 20 && tr.TWCCAcked >= 100 {
				t.Logf("the viewer's transport (%s): %d feedback packets, %d packets acknowledged, %d reported lost, of %d sent",
					tr.Mode, tr.TWCCFeedback, tr.TWCCAcked, tr.TWCCLost, tr.Sent)
				return ""
			}
			st = fmt.Sprintf("%+v", tr)
		}
		return "not yet: " + st
	})
}
