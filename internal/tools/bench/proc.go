package bench

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// CPUTicks returns the user plus system CPU time a process has used, in clock ticks
// (USER_HZ, 100 per second on Linux), from fields 14 and 15 of /proc/<pid>/stat.
func CPUTicks(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, fmt.Errorf("reading cpu time: %w", err)
	}
	return parseStatTicks(b)
}

// parseStatTicks reads utime+stime from the text of /proc/<pid>/stat. The command
// name (field 2) is in parentheses and may hold spaces, so fields are counted after
// its closing parenthesis.
func parseStatTicks(b []byte) (int64, error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("parsing /proc stat: no command name")
	}
	f := strings.Fields(string(b[i+1:]))
	// f[0] is field 3 (state); utime is field 14, stime field 15.
	if len(f) < 13 {
		return 0, fmt.Errorf("parsing /proc stat: %d fields after the command name", len(f))
	}
	u, err := strconv.ParseInt(f[11], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("parsing /proc stat utime: %w", err)
	}
	s, err := strconv.ParseInt(f[12], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("parsing /proc stat stime: %w", err)
	}
	return u + s, nil
}

// Memory is a process's resident set size now and at its peak, in bytes, and of RSS
// now the anonymous part (heap, stacks, mappings such as the key cache's slab) and
// the part mapped from files (mostly the executable's pages; shared and clean).
type Memory struct {
	RSS, PeakRSS     int64
	RSSAnon, RSSFile int64 // 0 where the kernel does not report them
}

// ReadMemory returns VmRSS and VmHWM from /proc/<pid>/status.
func ReadMemory(pid int) (Memory, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return Memory{}, fmt.Errorf("reading memory use: %w", err)
	}
	return parseStatus(b)
}

// parseStatus reads VmRSS and VmHWM (in kB), and RssAnon and RssFile where present,
// from the text of /proc/<pid>/status.
func parseStatus(b []byte) (Memory, error) {
	var m Memory
	var seen int
	for _, line := range strings.Split(string(b), "\n") {
		name, val, ok := strings.Cut(line, ":")
		var dst *int64
		switch name {
		case "VmRSS":
			dst = &m.RSS
		case "VmHWM":
			dst = &m.PeakRSS
		case "RssAnon":
			dst = &m.RSSAnon
		case "RssFile":
			dst = &m.RSSFile
		}
		if !ok || dst == nil {
			continue
		}
		f := strings.Fields(val)
		if len(f) != 2 || f[1] != "kB" {
			return m, fmt.Errorf("parsing /proc status %s: unexpected %q", name, strings.TrimSpace(val))
		}
		kb, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return m, fmt.Errorf("parsing /proc status %s: %w", name, err)
		}
		*dst = kb * 1024
		if name == "VmRSS" || name == "VmHWM" {
			seen++
		}
	}
	if seen != 2 {
		return m, fmt.Errorf("parsing /proc status: VmRSS or VmHWM missing")
	}
	return m, nil
}
