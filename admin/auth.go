package admin

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MinTokenLen is the shortest admin token the server accepts.
const MinTokenLen = 16

// ActorHeader names the header that sets the audit actor of a mutation.
const ActorHeader = "X-Sagate-Actor"

// maxActorLen bounds the X-Sagate-Actor header, in characters.
const maxActorLen = 64

// defaultActor is the audit actor when the request names none.
const defaultActor = "admin"

// realm is the WWW-Authenticate realm of the admin API.
const realm = "sagate-admin"

// tokenOK reports whether the request carries the admin token as a Bearer credential.
// Both sides are hashed first so that the comparison takes the same time whatever the
// lengths (subtle.ConstantTimeCompare returns early on a length mismatch).
func (s *Server) tokenOK(r *http.Request) bool {
	vals := r.Header.Values("Authorization")
	if len(vals) != 1 {
		return false
	}
	scheme, cred, ok := strings.Cut(vals[0], " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return false
	}
	got := sha256.Sum256([]byte(strings.TrimSpace(cred)))
	return subtle.ConstantTimeCompare(got[:], s.tokenHash[:]) == 1
}

// unauthenticated answers 401 with a Bearer challenge. The message never echoes what was sent.
func unauthenticated(w http.ResponseWriter) {
	w.Header().Set("WWW-Authenticate", `Bearer realm="`+realm+`"`)
	writeErrorBody(w, http.StatusUnauthorized, CodeUnauthenticated,
		"missing or invalid admin token: send Authorization: Bearer <admin token>")
}

// actorOf returns the audit actor named by the request: the X-Sagate-Actor header when
// present (non-empty, valid UTF-8, printable, at most 64 characters), else "admin".
func actorOf(r *http.Request) (string, error) {
	vals := r.Header.Values(ActorHeader)
	switch len(vals) {
	case 0:
		return defaultActor, nil
	case 1:
	default:
		return "", badRequest(ActorHeader + ": must be given at most once")
	}
	a := strings.TrimSpace(vals[0])
	if a == "" || !utf8.ValidString(a) || utf8.RuneCountInString(a) > maxActorLen {
		return "", badRequest(ActorHeader + ": must be 1 to 64 printable characters")
	}
	for _, c := range a {
		if !unicode.IsPrint(c) {
			return "", badRequest(ActorHeader + ": must be 1 to 64 printable characters")
		}
	}
	return a, nil
}
