package keycache

// SlotSize is slotSize for the external tests.
const SlotSize = slotSize

// ShrinkVerdicts gives c a verdict table of one bucket, so that a record is verified
// again unless it was one of the last two: for benchmarks of the cold miss path. Call
// it before the first lookup.
func ShrinkVerdicts(c *Cache) { c.verdicts = &verdicts{slots: make([][32]byte, 2)} }
