//go:build !linux

package sfu

import "net"

// sysBatch sends a batch one WriteTo at a time: sendmmsg is Linux's.
type sysBatch struct{ conn net.PacketConn }

func (s *sysBatch) init(conn net.PacketConn, _ []datagram) error {
	s.conn = conn
	return nil
}

func (s *sysBatch) send(ds []datagram, failed func(*datagram)) { writeEach(s.conn, ds, failed) }

func (s *sysBatch) close() {}
