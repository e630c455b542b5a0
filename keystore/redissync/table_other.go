//go:build !linux

package redissync

// hugePages does nothing where Linux's transparent huge pages are not.
func hugePages([]cell) {}
