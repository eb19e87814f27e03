package sfu

import (
	"fmt"

	"github.com/pion/webrtc/v4"
)

// Header-extension URIs Prism forwards from publishers to subscribers.
// Everything else (transport-wide sequence numbers, MID, RID) belongs to one
// connection and is stripped.
var forwardedExtensions = []string{
	"urn:ietf:params:rtp-hdrext:ssrc-audio-level",
	"urn:3gpp:video-orientation",
}

// videoFeedback is the RTCP feedback Prism negotiates for every video codec.
func videoFeedback() []webrtc.RTCPFeedback {
	return []webrtc.RTCPFeedback{
		{Type: webrtc.TypeRTCPFBNACK},
		{Type: webrtc.TypeRTCPFBNACK, Parameter: "pli"},
		{Type: webrtc.TypeRTCPFBCCM, Parameter: "fir"},
		{Type: webrtc.TypeRTCPFBTransportCC},
	}
}

// Codecs returns the codecs Prism negotiates, in order of preference:
// Opus for audio; VP8, VP9, H.264 and AV1 for video. Retransmissions are
// sent on the media SSRC, so no RTX codec is offered.
func Codecs() []webrtc.RTPCodecParameters {
	video := func(pt webrtc.PayloadType, mime, fmtp string) webrtc.RTPCodecParameters {
		return webrtc.RTPCodecParameters{
			RTPCodecCapability: webrtc.RTPCodecCapability{
				MimeType: mime, ClockRate: 90000, SDPFmtpLine: fmtp, RTCPFeedback: videoFeedback(),
			},
			PayloadType: pt,
		}
	}
	const h264 = "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id="
	return []webrtc.RTPCodecParameters{
		{
			RTPCodecCapability: webrtc.RTPCodecCapability{
				MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2,
				SDPFmtpLine:  "minptime=10;useinbandfec=1",
				RTCPFeedback: []webrtc.RTCPFeedback{{Type: webrtc.TypeRTCPFBTransportCC}},
			},
			PayloadType: 111,
		},
		video(96, webrtc.MimeTypeVP8, ""),
		video(98, webrtc.MimeTypeVP9, "profile-id=0"),
		video(100, webrtc.MimeTypeVP9, "profile-id=2"),
		video(102, webrtc.MimeTypeH264, h264+"42001f"),
		video(104, webrtc.MimeTypeH264, h264+"42e01f"),
		video(106, webrtc.MimeTypeH264, h264+"4d001f"),
		video(108, webrtc.MimeTypeH264, h264+"64001f"),
		video(45, webrtc.MimeTypeAV1, ""),
	}
}

// RegisterCodecs registers Codecs and the forwarded header extensions with
// m. Prism and its Go client both use it, so that they agree.
func RegisterCodecs(m *webrtc.MediaEngine) error {
	for _, c := range Codecs() {
		kind := webrtc.RTPCodecTypeVideo
		if c.MimeType == webrtc.MimeTypeOpus {
			kind = webrtc.RTPCodecTypeAudio
		}
		if err := m.RegisterCodec(c, kind); err != nil {
			return fmt.Errorf("register %s: %w", c.MimeType, err)
		}
	}
	exts := []struct {
		uri  string
		kind webrtc.RTPCodecType
	}{
		{"urn:ietf:params:rtp-hdrext:ssrc-audio-level", webrtc.RTPCodecTypeAudio},
		{"urn:3gpp:video-orientation", webrtc.RTPCodecTypeVideo},
	}
	for _, e := range exts {
		if err := m.RegisterHeaderExtension(webrtc.RTPHeaderExtensionCapability{URI: e.uri}, e.kind); err != nil {
			return fmt.Errorf("register extension %s: %w", e.uri, err)
		}
	}
	return nil
}
