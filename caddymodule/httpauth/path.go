package httpauth

import (
	"errors"
	"strings"
)

// SlashPolicy says what CleanPath does with a percent-encoded slash or backslash
// (%2F, %5C, in any case) and with a raw backslash: parts of a path that one
// component reads as a separator and another as data.
type SlashPolicy uint8

const (
	// SlashReject refuses the path (ErrEscapedSlash).
	SlashReject SlashPolicy = iota
	// SlashKeep keeps %2F and %5C as data within their segment (a raw backslash
	// becomes %5C). Each piece between them must still be a name: a piece that is
	// empty or a dot segment is refused, so that a reader that decodes them finds
	// no dot segment or empty segment either.
	SlashKeep
	// SlashUnescape turns each into "/", a separator like any other, before dot
	// segments are resolved and slashes merged.
	SlashUnescape
)

// PathOptions choose between normalising and refusing. The zero value refuses
// every path CleanPath would otherwise have to change in meaning.
type PathOptions struct {
	// ResolveDots removes "." segments and resolves ".." segments (RFC 3986
	// 5.2.4); false refuses a path with either (ErrDotSegment).
	ResolveDots bool
	// MergeSlashes drops empty segments ("//" becomes "/"); false refuses them
	// (ErrEmptySegment). A single trailing slash is kept either way.
	MergeSlashes bool
	// Slashes is what happens to %2F, %5C and a raw backslash.
	Slashes SlashPolicy
}

// Reasons CleanPath refuses a path. Their text holds nothing of the path.
var (
	ErrNotAbsolute   = errors.New("path does not start with a slash")
	ErrBadEscape     = errors.New("path has an invalid percent-encoding")
	ErrControl       = errors.New("path has a control character")
	ErrEscapedSlash  = errors.New("path has an encoded slash or a backslash")
	ErrDotSegment    = errors.New("path has a dot segment")
	ErrEmptySegment  = errors.New("path has an empty segment")
	ErrAboveRoot     = errors.New("path climbs above the root")
	ErrDotWithParams = errors.New("path has a dot segment with parameters")
)

// CleanPath returns the escaped URL path p (as url.URL.EscapedPath gives it) in a
// form every component reads the same way, or an error when it refuses p:
//
//   - an invalid percent-encoding (a '%' not followed by two hex digits) and a
//     control character, raw or encoded (%00-%1F, %7F), are always refused;
//   - a percent-encoded unreserved character (letters, digits, "-._~") is decoded,
//     so "%2e" is a dot and "%70%31" is "p1" (RFC 3986 6.2.2.2); other encodings
//     are kept as sent, and a byte a path cannot hold raw is encoded;
//   - %2F, %5C and a raw backslash are handled as o.Slashes says;
//   - dot segments and repeated slashes are resolved or refused as o says; a ".."
//     above the root is always refused;
//   - a dot segment followed by parameters (".;x", "..;x"), which some servers
//     read as a dot segment, is always refused.
//
// "" and "*" (the asterisk-form of OPTIONS) are returned as they are. A path that
// needs no change is returned without allocating.
func CleanPath(p string, o PathOptions) (string, error) {
	if p == "" || p == "*" {
		return p, nil
	}
	if p[0] != '/' {
		return "", ErrNotAbsolute
	}
	if isClean(p) {
		return p, nil
	}
	return cleanSlow(p, o)
}

// isClean reports whether p (starting with '/') is one CleanPath returns unchanged
// under any options: only path characters and encodings of bytes that need them,
// no dot segment, no empty segment but a trailing one.
func isClean(p string) bool {
	seg := 1 // start of the current segment
	for i := 1; i < len(p); i++ {
		switch c := p[i]; {
		case c == '/':
			if i == seg || isDotLike(p[seg:i]) {
				return false
			}
			seg = i + 1
		case c == '%':
			if i+2 >= len(p) || !isHex(p[i+1]) || !isHex(p[i+2]) {
				return false
			}
			b := unhex(p[i+1])<<4 | unhex(p[i+2])
			if isUnreserved(b) || b == '/' || b == '\\' || b == ';' || isCtl(b) {
				return false
			}
			i += 2
		case !isPchar(c):
			return false
		}
	}
	return !isDotLike(p[seg:])
}

// IsCleanDecoded reports whether the decoded path p (url.URL.Path, with RawPath
// empty) is one that url.URL.EscapedPath returns as it is and CleanPath returns
// unchanged under any options: only bytes a path holds raw that net/url never
// escapes, no dot segment, no empty segment but a trailing one. It is one pass over
// p instead of EscapedPath's and CleanPath's; false says only that they must run.
func IsCleanDecoded(p string) bool {
	if p == "" || p[0] != '/' {
		return false
	}
	seg := 1 // start of the current segment
	for i := 1; i < len(p); i++ {
		if c := p[i]; c == '/' {
			if i == seg || p[seg] == '.' && isDotLike(p[seg:i]) {
				return false
			}
			seg = i + 1
		} else if !plainPathByte[c] {
			return false
		}
	}
	return seg == len(p) || p[seg] != '.' || !isDotLike(p[seg:])
}

// plainPathByte marks the bytes, but '/', that a path holds raw (isPchar) and that
// url.URL.EscapedPath leaves as they are: letters, digits and "-._~$&+,;=:@" (net/url
// escapes "!'()*" in a path, and '%' of a decoded path).
var plainPathByte = func() (set [256]bool) {
	for c := range 256 {
		set[c] = 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
			strings.IndexByte("-._~$&+,;=:@", byte(c)) >= 0
	}
	return set
}()

// isDotLike reports whether a segment is a dot segment or starts like one
// followed by parameters (".;x", "..;x").
func isDotLike(s string) bool {
	return s == "." || s == ".." || hasPrefix(s, ".;") || hasPrefix(s, "..;")
}

// dotParams reports whether seg (in CleanPath's output form) is a dot followed by
// parameters, literal or encoded: ".;x", "..;x", ".%3Bx", "..%3bx".
func dotParams(seg []byte) bool {
	n := 0
	for n < len(seg) && n < 2 && seg[n] == '.' {
		n++
	}
	if n == 0 || n == len(seg) {
		return false
	}
	rest := seg[n:]
	return rest[0] == ';' || len(rest) >= 3 && rest[0] == '%' && rest[1] == '3' && (rest[2] == 'B' || rest[2] == 'b')
}

// cleanSlow is CleanPath for a path that is not clean already.
func cleanSlow(p string, o PathOptions) (string, error) {
	out := make([]byte, 0, len(p)+8)
	var stackBuf [16]int
	starts := stackBuf[:0] // where each kept segment's '/' is in out
	i := 1
	for {
		segStart := len(out)
		out = append(out, '/')
		var err error
		var more, encodedSlash bool
		out, i, more, encodedSlash, err = appendSegment(out, p, i, o.Slashes)
		if err != nil {
			return "", err
		}
		seg := out[segStart+1:]
		switch {
		case encodedSlash && !piecesAreNames(seg):
			return "", ErrEscapedSlash
		case dotParams(seg):
			return "", ErrDotWithParams
		case isDotSeg(seg):
			if !o.ResolveDots {
				return "", ErrDotSegment
			}
			if len(seg) == 1 {
				out = out[:segStart]
			} else {
				if len(starts) == 0 {
					return "", ErrAboveRoot
				}
				out = out[:starts[len(starts)-1]]
				starts = starts[:len(starts)-1]
			}
			if !more {
				return string(append(out, '/')), nil // "/a/b/.." is "/a/", "/." is "/"
			}
		case len(seg) == 0:
			if !more {
				return string(out), nil // the trailing slash
			}
			if !o.MergeSlashes {
				return "", ErrEmptySegment
			}
			out = out[:segStart]
		default:
			if !more {
				return string(out), nil
			}
			starts = append(starts, segStart)
		}
	}
}

// isDotSeg reports whether seg is "." or "..".
func isDotSeg(seg []byte) bool {
	return len(seg) == 1 && seg[0] == '.' || len(seg) == 2 && seg[0] == '.' && seg[1] == '.'
}

// appendSegment appends the segment of p starting at i to out in output form and
// returns the new out, the index after the segment and its separator, whether a
// separator ended it (more follows), and whether it holds a kept %2F or %5C.
func appendSegment(out []byte, p string, i int, slashes SlashPolicy) ([]byte, int, bool, bool, error) {
	encodedSlash := false
	for i < len(p) {
		c := p[i]
		if c == '%' {
			if i+2 >= len(p) || !isHex(p[i+1]) || !isHex(p[i+2]) {
				return out, i, false, false, ErrBadEscape
			}
			b := unhex(p[i+1])<<4 | unhex(p[i+2])
			switch {
			case b == '/' || b == '\\':
				switch slashes {
				case SlashUnescape:
					return out, i + 3, true, encodedSlash, nil
				case SlashKeep:
					out = append(out, p[i:i+3]...)
					encodedSlash = true
				default:
					return out, i, false, false, ErrEscapedSlash
				}
			case isCtl(b):
				return out, i, false, false, ErrControl
			case isUnreserved(b):
				out = append(out, b)
			default:
				out = append(out, p[i:i+3]...)
			}
			i += 3
			continue
		}
		switch {
		case c == '/':
			return out, i + 1, true, encodedSlash, nil
		case c == '\\':
			switch slashes {
			case SlashUnescape:
				return out, i + 1, true, encodedSlash, nil
			case SlashKeep:
				out = append(out, "%5C"...)
				encodedSlash = true
			default:
				return out, i, false, false, ErrEscapedSlash
			}
		case isCtl(c):
			return out, i, false, false, ErrControl
		case isPchar(c):
			out = append(out, c)
		default:
			out = append(out, '%', upperHex[c>>4], upperHex[c&15])
		}
		i++
	}
	return out, i, false, encodedSlash, nil
}

// piecesAreNames reports whether each piece of seg between kept %2F and %5C is
// neither empty nor a dot segment: what a reader that decodes them would see as
// segments.
func piecesAreNames(seg []byte) bool {
	start := 0
	for j := 0; j <= len(seg); j++ {
		if j < len(seg) && !(seg[j] == '%' && j+2 < len(seg) && isSlashCode(seg[j+1], seg[j+2])) {
			continue
		}
		piece := seg[start:j]
		if len(piece) == 0 || isDotSeg(piece) || dotParams(piece) {
			return false
		}
		start = j + 3
		j += 2
	}
	return true
}

// isSlashCode reports whether the hex digits h, l encode '/' or '\'.
func isSlashCode(h, l byte) bool {
	return isHex(h) && isHex(l) && (unhex(h)<<4|unhex(l) == '/' || unhex(h)<<4|unhex(l) == '\\')
}

const upperHex = "0123456789ABCDEF"

func hasPrefix(s, prefix string) bool { return len(s) >= len(prefix) && s[:len(prefix)] == prefix }

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c <= 'F':
		return c - 'A' + 10
	}
	return c - 'a' + 10
}

func isCtl(c byte) bool { return c < 0x20 || c == 0x7f }

// isUnreserved reports whether c is an RFC 3986 unreserved character.
func isUnreserved(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~'
}

// isPchar reports whether c may appear raw in a path segment (RFC 3986 pchar
// without pct-encoded): unreserved, sub-delims, ':' and '@'.
func isPchar(c byte) bool {
	if isUnreserved(c) {
		return true
	}
	switch c {
	case '!', '$', '&', '\'', '(', ')', '*', '+', ',', ';', '=', ':', '@':
		return true
	}
	return false
}
