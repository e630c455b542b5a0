package redissync

// entryTable maps slots to digest entries: open addressing with linear probing in one
// array of 24-byte cells, key 0 marking a free cell (slot 0 itself is kept aside). A repair looks up every key twice in a table far larger than
// the CPU's caches; here a lookup touches about one cache line and returns the entry
// to update in place, where a Go map takes a second lookup to store it back. Not safe
// for concurrent use (digestSet.mu guards it).
type entryTable struct {
	cells []cell
	n     int // entries in cells
	seed  uint64
	shift uint
	// zero is slot 0's entry (nil: none), which a cell cannot hold.
	zero *digestEntry
	// sink keeps touch's loads from being optimised away.
	sink uint64
}

type cell struct {
	key uint64 // 0: free
	e   digestEntry
}

// maxLoad is the most cells in use per 4 before the table doubles.
const maxLoad = 3

func newEntryTable(seed uint64) *entryTable { return &entryTable{seed: seed | 1} }

// home is the cell where k's probe starts: slots are the first bytes of SHA-256 key
// hashes, but mixed all the same (the table must not depend on where they come from).
func (t *entryTable) home(k uint64) int {
	return int(((k ^ t.seed) * 0x9e3779b97f4a7c15) >> t.shift)
}

// get returns k's entry, nil when there is none; it stays valid until the next put or
// delete.
func (t *entryTable) get(k uint64) *digestEntry {
	if k == 0 {
		return t.zero
	}
	if t.n == 0 {
		return nil
	}
	mask := len(t.cells) - 1
	for i := t.home(k); ; i = (i + 1) & mask {
		c := &t.cells[i]
		if c.key == 0 {
			return nil
		}
		if c.key == k {
			return &c.e
		}
	}
}

// touch loads the home cell of each of ks, so that the lookups that follow find them in
// the CPU's caches. In a table far larger than the caches each lookup is a cache miss,
// and a lookup's probe, compare and branch wait for it; these loads depend on nothing,
// so the CPU has many misses in flight at once.
func (t *entryTable) touch(ks []uint64) {
	if t.n == 0 {
		return
	}
	var x uint64
	for _, k := range ks {
		x ^= t.cells[t.home(k)].key
	}
	t.sink = x
}

// put sets k's entry to e.
func (t *entryTable) put(k uint64, e digestEntry) {
	if k == 0 {
		t.zero = &e
		return
	}
	if (t.n+1)*4 > len(t.cells)*maxLoad {
		t.grow()
	}
	mask := len(t.cells) - 1
	for i := t.home(k); ; i = (i + 1) & mask {
		c := &t.cells[i]
		if c.key == 0 {
			*c = cell{key: k, e: e}
			t.n++
			return
		}
		if c.key == k {
			c.e = e
			return
		}
	}
}

func (t *entryTable) grow() {
	old := t.cells
	size := max(16, 2*len(old))
	t.cells, t.n = make([]cell, size), 0
	hugePages(t.cells)
	t.shift = 64
	for s := size; s > 1; s >>= 1 {
		t.shift--
	}
	for i := range old {
		if old[i].key != 0 {
			t.put(old[i].key, old[i].e)
		}
	}
}

// delete removes k's entry, if any, moving back the entries probed past it.
func (t *entryTable) delete(k uint64) {
	if k == 0 {
		t.zero = nil
		return
	}
	if t.n == 0 {
		return
	}
	mask := len(t.cells) - 1
	i := t.home(k)
	for ; ; i = (i + 1) & mask {
		if t.cells[i].key == 0 {
			return
		}
		if t.cells[i].key == k {
			break
		}
	}
	for j := (i + 1) & mask; t.cells[j].key != 0; j = (j + 1) & mask {
		// The entry at j may fill the hole at i unless its probe starts after i, up to j.
		h := t.home(t.cells[j].key)
		if (j > i && (h <= i || h > j)) || (j < i && h <= i && h > j) {
			t.cells[i] = t.cells[j]
			i = j
		}
	}
	t.cells[i] = cell{}
	t.n--
}

// len is the number of entries.
func (t *entryTable) len() int {
	if t.zero != nil {
		return t.n + 1
	}
	return t.n
}

// each calls fn for every entry, which fn may change; the entries for which it returns
// true are deleted afterwards.
func (t *entryTable) each(fn func(k uint64, e *digestEntry) (drop bool)) {
	var drop []uint64
	if t.zero != nil && fn(0, t.zero) {
		drop = append(drop, 0)
	}
	for i := range t.cells {
		if c := &t.cells[i]; c.key != 0 && fn(c.key, &c.e) {
			drop = append(drop, c.key)
		}
	}
	for _, k := range drop {
		t.delete(k)
	}
}
