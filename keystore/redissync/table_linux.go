package redissync

import (
	"syscall"
	"unsafe"
)

// hugePages asks the kernel to back cells with huge pages where it is set to do so on
// request (transparent_hugepage "madvise"): a table of millions of cells is read at
// random, and with 4 KiB pages nearly every lookup misses the TLB too. Best effort: an
// error changes nothing but the speed.
func hugePages(cells []cell) {
	const huge = 2 << 20
	size := len(cells) * int(unsafe.Sizeof(cell{}))
	if size < 2*huge {
		return
	}
	_ = syscall.Madvise(unsafe.Slice((*byte)(unsafe.Pointer(&cells[0])), size), 14) // MADV_HUGEPAGE
}
