package sfu

import (
	"errors"
	"net"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// sysBatch sends a batch with sendmmsg on its own duplicate of the socket's
// file descriptor. The duplicate shares the socket (and its non-blocking
// mode) but not Go's per-descriptor write lock, so workers never wait for
// each other, and a full send buffer is EAGAIN (a drop), never a wait.
type sysBatch struct {
	conn   net.PacketConn // fallback when the socket is not a *net.UDPConn
	fd     int
	inet6  bool
	hdrs   []mmsghdr
	iovs   []unix.Iovec
	names  []unix.RawSockaddrInet6 // large enough for either family
	direct bool
}

// mmsghdr is the kernel's struct mmsghdr.
type mmsghdr struct {
	hdr unix.Msghdr
	len uint32
	_   [4]byte
}

func (s *sysBatch) init(conn net.PacketConn, ds []datagram) error {
	s.conn = conn
	udp, ok := conn.(*net.UDPConn)
	if !ok {
		return nil
	}
	raw, err := udp.SyscallConn()
	if err != nil {
		return err
	}
	var dupErr error
	if err := raw.Control(func(fd uintptr) {
		s.fd, dupErr = unix.FcntlInt(fd, unix.F_DUPFD_CLOEXEC, 0)
	}); err != nil {
		return err
	}
	if dupErr != nil {
		return dupErr
	}
	sa, err := unix.Getsockname(s.fd)
	if err != nil {
		_ = unix.Close(s.fd)
		return err
	}
	_, s.inet6 = sa.(*unix.SockaddrInet6)
	s.hdrs = make([]mmsghdr, len(ds))
	s.iovs = make([]unix.Iovec, len(ds))
	s.names = make([]unix.RawSockaddrInet6, len(ds))
	for i := range ds {
		s.iovs[i].Base = &ds[i].buf[0]
		s.hdrs[i].hdr.Iov = &s.iovs[i]
		s.hdrs[i].hdr.SetIovlen(1)
		s.hdrs[i].hdr.Name = (*byte)(unsafe.Pointer(&s.names[i]))
	}
	s.direct = true
	return nil
}

func (s *sysBatch) send(ds []datagram, failed func(*datagram)) {
	if !s.direct {
		writeEach(s.conn, ds, failed)
		return
	}
	for i := range ds {
		s.iovs[i].SetLen(ds[i].n)
		s.hdrs[i].hdr.Namelen = s.setName(i, &ds[i])
	}
	for sent := 0; sent < len(ds); {
		n, err := sendmmsg(s.fd, s.hdrs[sent:len(ds)])
		switch {
		case errors.Is(err, unix.EINTR):
		case err != nil:
			// The first datagram left was refused; skip it and go on.
			failed(&ds[sent])
			sent++
		default:
			sent += n
		}
	}
}

// setName writes the destination of datagram i in the socket's family and
// returns its length.
func (s *sysBatch) setName(i int, d *datagram) uint32 {
	ip, port := d.to.Addr(), d.to.Port()
	pp := (*[2]byte)(unsafe.Pointer(&s.names[i].Port))
	pp[0], pp[1] = byte(port>>8), byte(port)
	if s.inet6 {
		s.names[i].Family = unix.AF_INET6
		s.names[i].Flowinfo, s.names[i].Scope_id = 0, 0
		s.names[i].Addr = ip.As16() // an IPv4 address as ::ffff:a.b.c.d
		return unix.SizeofSockaddrInet6
	}
	sa4 := (*unix.RawSockaddrInet4)(unsafe.Pointer(&s.names[i]))
	sa4.Family = unix.AF_INET
	sa4.Addr = ip.Unmap().As4()
	return unix.SizeofSockaddrInet4
}

func sendmmsg(fd int, hdrs []mmsghdr) (int, error) {
	n, _, errno := unix.Syscall6(unix.SYS_SENDMMSG, uintptr(fd), uintptr(unsafe.Pointer(&hdrs[0])), uintptr(len(hdrs)), unix.MSG_DONTWAIT, 0, 0)
	if errno != 0 {
		return 0, syscall.Errno(errno)
	}
	return int(n), nil
}

func (s *sysBatch) close() {
	if s.direct {
		_ = unix.Close(s.fd)
		s.direct = false
	}
}
