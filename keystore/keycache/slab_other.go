//go:build !unix

package keycache

// newSlab returns n zeroed slots on the heap.
func newSlab(n int) *slab { return &slab{slots: make([]slot, n)} }

// release lets the garbage collector have the slots.
func (sl *slab) release() { sl.slots = nil }
