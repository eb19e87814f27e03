// Package sfu is Prism's media core: rooms, participants, the receiver that
// reads each published track once, and the down-tracks that forward it to
// every subscriber.
//
// Each participant has two peer connections. On the publish connection the
// client offers and Prism answers; on the subscribe connection Prism offers
// and the client answers, one offer at a time, with changes coalesced into
// the next offer. The package knows nothing of WebSockets or JSON: a
// signaling front end drives a Participant through its methods and hears
// from it through the Events interface.
package sfu
