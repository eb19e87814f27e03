package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// clockTicks is USER_HZ, the unit of utime and stime in /proc/PID/stat. It
// is 100 on every Linux architecture Go supports.
const clockTicks = 100

// procCPU returns the CPU time (user + system) that process pid has used.
func procCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name (field 2) is in parentheses and may contain spaces:
	// the fields after the last ')' start with field 3, the state.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, errors.New("malformed /proc stat")
	}
	f := strings.Fields(string(b[i+1:]))
	// utime and stime are fields 14 and 15, so 11 and 12 after the state.
	if len(f) < 13 {
		return 0, errors.New("short /proc stat")
	}
	ut, err1 := strconv.ParseUint(f[11], 10, 64)
	st, err2 := strconv.ParseUint(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, errors.New("malformed utime/stime in /proc stat")
	}
	return time.Duration(ut+st) * time.Second / clockTicks, nil
}

// procMem returns the resident set size and its peak (VmHWM), in bytes.
func procMem(pid int) (rss, peak uint64, err error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		var dst *uint64
		switch {
		case strings.HasPrefix(line, "VmRSS:"):
			dst = &rss
		case strings.HasPrefix(line, "VmHWM:"):
			dst = &peak
		default:
			continue
		}
		fs := strings.Fields(line) // "VmRSS:", "1234", "kB"
		if len(fs) >= 2 {
			if v, err := strconv.ParseUint(fs[1], 10, 64); err == nil {
				*dst = v * 1024
			}
		}
	}
	if rss == 0 {
		return 0, 0, errors.New("no VmRSS in /proc status")
	}
	return rss, peak, sc.Err()
}

// selfCPU returns the CPU time this process has used.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// udpRcvbufErrors returns the machine's (network namespace's) count of UDP
// datagrams dropped because a socket's receive buffer was full, IPv4 and
// IPv6 together. ok is false when /proc/net does not say.
func udpRcvbufErrors() (n int64, ok bool) {
	if b, err := os.ReadFile("/proc/net/snmp"); err == nil {
		if v, found := snmpField(b, "Udp:", "RcvbufErrors"); found {
			n += v
			ok = true
		}
	}
	if b, err := os.ReadFile("/proc/net/snmp6"); err == nil {
		sc := bufio.NewScanner(bytes.NewReader(b))
		for sc.Scan() {
			fs := strings.Fields(sc.Text())
			if len(fs) == 2 && fs[0] == "Udp6RcvbufErrors" {
				if v, err := strconv.ParseInt(fs[1], 10, 64); err == nil {
					n += v
					ok = true
				}
			}
		}
	}
	return n, ok
}

// snmpField finds a counter in /proc/net/snmp, where each protocol has a
// line of names followed by a line of values, both starting with proto.
func snmpField(b []byte, proto, name string) (int64, bool) {
	var names []string
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		if len(fs) == 0 || fs[0] != proto {
			continue
		}
		if names == nil {
			names = fs
			continue
		}
		for i := 1; i < len(fs) && i < len(names); i++ {
			if names[i] == name {
				v, err := strconv.ParseInt(fs[i], 10, 64)
				return v, err == nil
			}
		}
		return 0, false
	}
	return 0, false
}

// udpSocketDrops returns the sum of the kernel's drop counters (a full
// receive buffer, mostly) over the UDP sockets process pid holds open. It
// tells whose sockets lost what RcvbufErrors counts for the whole machine.
func udpSocketDrops(pid int) (uint64, bool) {
	fdDir := fmt.Sprintf("/proc/%d/fd", pid)
	ents, err := os.ReadDir(fdDir)
	if err != nil {
		return 0, false
	}
	inodes := make(map[string]bool)
	for _, e := range ents {
		l, err := os.Readlink(fdDir + "/" + e.Name())
		if err == nil && strings.HasPrefix(l, "socket:[") {
			inodes[strings.TrimSuffix(strings.TrimPrefix(l, "socket:["), "]")] = true
		}
	}
	var drops uint64
	ok := false
	for _, f := range []string{"udp", "udp6"} {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/net/%s", pid, f))
		if err != nil {
			continue
		}
		ok = true
		drops += sumSocketDrops(b, inodes)
	}
	return drops, ok
}

// sumSocketDrops adds the drops column of the /proc/net/udp lines whose
// inode is in inodes.
func sumSocketDrops(b []byte, inodes map[string]bool) uint64 {
	var n uint64
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Scan() // header
	for sc.Scan() {
		// sl local rem st tx:rx tr:when retrnsmt uid timeout inode ref pointer drops
		f := strings.Fields(sc.Text())
		if len(f) < 13 || !inodes[f[9]] {
			continue
		}
		if v, err := strconv.ParseUint(f[12], 10, 64); err == nil {
			n += v
		}
	}
	return n
}

// serverSampler reads a server process's CPU and memory; a nil sampler (no
// -server-pid) reports nothing.
type serverSampler struct {
	pid int
}

type serverSample struct {
	cpu       time.Duration
	rss, peak uint64
	ok        bool
}

func (s *serverSampler) sample() serverSample {
	if s == nil {
		return serverSample{}
	}
	cpu, err := procCPU(s.pid)
	if err != nil {
		return serverSample{}
	}
	rss, peak, _ := procMem(s.pid)
	return serverSample{cpu: cpu, rss: rss, peak: peak, ok: true}
}
