package keycache

// SlotSize is slotSize for the external tests.
const SlotSize = slotSize
