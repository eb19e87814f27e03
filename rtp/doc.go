// Package rtp holds Prism's packet-level work: parsing each packet once
// (Parser, Meta: sequence numbers, frame boundaries, keyframes, layer ids,
// the VP8 descriptor), the per-stream packet cache that answers NACKs and
// replays keyframes, the drop-aware Sequencer and the VP8Munger that keep
// one subscriber's stream continuous, the OutHeader writer that builds a
// subscriber's packet, and sequence-number arithmetic.
//
// Nothing here does I/O or knows about peer connections; everything on the
// per-packet path is allocation-free.
package rtp
