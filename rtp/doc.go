// Package rtp holds Prism's packet-level work: sequence-number arithmetic,
// the per-track packet cache that answers NACKs and replays keyframes,
// codec keyframe detection, and the header rewriting that turns a
// publisher's stream into one continuous stream per subscriber.
//
// Nothing here does I/O or knows about peer connections; everything on the
// per-packet path is allocation-free.
package rtp
