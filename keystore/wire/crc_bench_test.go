package wire

import (
	"hash/crc32"
	"testing"
)

// crcSink keeps the compiler from dropping the checksums below.
var crcSink uint32

// BenchmarkKeyCRC compares the checksum CheckKey computes (the body of a key, 47 bytes)
// in its forms: the hand-written slicing-by-8 over the string, the standard library on a
// converted []byte, and the standard library on a stack copy.
func BenchmarkKeyCRC(b *testing.B) {
	k, err := GenerateKey()
	if err != nil {
		b.Fatal(err)
	}
	s := k[:len(KeyPrefix)+keyBodyLen]
	b.Run("slicing8-string", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			crcSink = crcString(s)
		}
	})
	b.Run("stdlib-convert", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			crcSink = crc32.ChecksumIEEE([]byte(s))
		}
	})
	b.Run("stdlib-stackcopy", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var buf [len(KeyPrefix) + keyBodyLen]byte
			copy(buf[:], s)
			crcSink = crc32.ChecksumIEEE(buf[:])
		}
	})
}
