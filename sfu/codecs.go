package sfu

import (
	"fmt"

	"github.com/pion/webrtc/v4"

	prtp "github.com/prismsfu/prism/rtp"
)

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

// Header extensions that identify a simulcast encoding on the publish
// connection (RFC 8852): Prism needs them to tell a publisher's encodings
// apart. They belong to one connection and are never forwarded.
const (
	midURI  = "urn:ietf:params:rtp-hdrext:sdes:mid"
	ridURI  = "urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id"
	rridURI = "urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id"
)

// RegisterPublishCodecs sets up a publish connection's media engine, at
// either end: the codecs, the forwarded extensions, and the extensions
// that tell simulcast encodings apart.
func RegisterPublishCodecs(m *webrtc.MediaEngine) error {
	if err := RegisterCodecs(m); err != nil {
		return err
	}
	for _, uri := range []string{midURI, ridURI, rridURI} {
		if err := m.RegisterHeaderExtension(webrtc.RTPHeaderExtensionCapability{URI: uri}, webrtc.RTPCodecTypeVideo); err != nil {
			return fmt.Errorf("register extension %s: %w", uri, err)
		}
	}
	return nil
}

// registerSubscribeCodecs sets up a subscribe connection's media engine:
// the codecs, the forwarded extensions, and the transport-wide sequence
// number every packet carries, so that subscribers send congestion
// feedback.
func registerSubscribeCodecs(m *webrtc.MediaEngine) error {
	if err := RegisterCodecs(m); err != nil {
		return err
	}
	for _, kind := range []webrtc.RTPCodecType{webrtc.RTPCodecTypeAudio, webrtc.RTPCodecTypeVideo} {
		if err := m.RegisterHeaderExtension(webrtc.RTPHeaderExtensionCapability{URI: transportCCURI}, kind); err != nil {
			return fmt.Errorf("register extension %s: %w", transportCCURI, err)
		}
	}
	return nil
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
		{prtp.ForwardedExtensionURIs[prtp.ExtAudioLevel], webrtc.RTPCodecTypeAudio},
		{prtp.ForwardedExtensionURIs[prtp.ExtVideoOrientation], webrtc.RTPCodecTypeVideo},
	}
	for _, e := range exts {
		if err := m.RegisterHeaderExtension(webrtc.RTPHeaderExtensionCapability{URI: e.uri}, e.kind); err != nil {
			return fmt.Errorf("register extension %s: %w", e.uri, err)
		}
	}
	return nil
}
