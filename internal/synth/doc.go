// Package synth generates synthetic media that an SFU treats like the real
// thing: VP8 video RTP packets with valid payload descriptors and frame
// headers, keyframes at a fixed interval that are several times larger than
// delta frames, and Opus-sized audio packets every 20 ms.
//
// Video can also send temporal layers as libvpx makes them (L1T2, L1T3):
// descriptors with TID, layer sync, TL0PICIDX and KEYIDX, and base layer
// frames larger than the top layer's. Simulcast sends up to three such
// streams of one picture at 1/4, 1/2 and full size, each with its own SSRC
// and RID, that can be paused and resumed as a browser's encodings are,
// like Chromium's VP8 simulcast.
//
// Every packet carries a stamp: a magic number, the time it was sent and a
// per-stream packet counter that no SFU rewrites. Opus packets carry it
// after the TOC byte; VP8 packets in their last bytes, past the frame data,
// where decoders never read, so a browser decodes the video (a flat grey
// picture). ParseStamp reads the stamp back on the receiving side, so tests
// and load tests can measure latency, loss and reordering end to end.
//
// Generators reuse their packets and buffers; nothing is allocated per
// packet once a generator has made its largest frame.
package synth
