//go:build unix

package keycache

import (
	"syscall"
	"unsafe"
)

// newSlab maps n zeroed slots. Should the mapping fail, it falls back to the heap.
func newSlab(n int) *slab {
	mem, err := syscall.Mmap(-1, 0, n*slotSize, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		return &slab{slots: make([]slot, n)}
	}
	return &slab{slots: unsafe.Slice((*slot)(unsafe.Pointer(&mem[0])), n), mem: mem}
}

// release unmaps the slab. No slot may be used after it.
func (sl *slab) release() {
	sl.slots = nil
	if sl.mem != nil {
		_ = syscall.Munmap(sl.mem)
		sl.mem = nil
	}
}
