package keycache

import "unsafe"

// A slab holds the slots of every shard of a cache in one block of memory. On Unix it
// is an anonymous mapping outside the Go heap (slab_unix.go): the garbage collector
// neither scans it nor counts it towards its heap goal, so a full cache costs its
// slots once instead of about twice (GOGC=100 lets the heap grow to twice what is
// live), and pages are only backed once a slot on them is used. Elsewhere it is an
// ordinary slice (slab_other.go).
//
// Slots hold no Go pointers, and every access to one is made under its shard's lock
// after checking that the shard is not closed: Cache.Close marks every shard closed,
// under its lock, before the slab is released (a miss's reply may still arrive later).
type slab struct {
	slots []slot
	mem   []byte // the mapping, nil for a heap slab
}

// slotSize is the size of one slot in bytes.
const slotSize = int(unsafe.Sizeof(slot{}))
