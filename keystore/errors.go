package keystore

import (
	"errors"
	"fmt"
)

// Kind classifies an error for the faces of keystore: the admin API maps it to a status.
type Kind string

// Error kinds. The comments give the HTTP status the admin API answers with.
const (
	KindInvalid      Kind = "invalid_argument"    // 400
	KindNotFound     Kind = "not_found"           // 404
	KindNameTaken    Kind = "already_exists"      // 409
	KindLimitReached Kind = "limit_reached"       // 409
	KindAmbiguous    Kind = "ambiguous"           // 409
	KindState        Kind = "failed_precondition" // 422: well-formed but not allowed in the current state
	// KindAlreadyRotated: the key already has a live successor; rotate with force (409).
	KindAlreadyRotated Kind = "already_rotated"
	// KindUnauthenticated: no caller, or a key that does not authenticate (401).
	KindUnauthenticated Kind = "unauthenticated"
	// KindPermissionDenied: the caller lacks the right; the message names it (403).
	KindPermissionDenied Kind = "permission_denied"
)

// Error is a rule violation with a message safe to show a client: it never
// contains a secret or a hash.
type Error struct {
	Kind    Kind
	Message string
}

func (e *Error) Error() string { return e.Message }

// Is makes errors.Is(err, &Error{Kind: k}) match on kind alone.
func (e *Error) Is(target error) bool {
	var t *Error
	return errors.As(target, &t) && t.Message == "" && t.Kind == e.Kind
}

// KindOf returns the Kind of a keystore error anywhere in err's chain, or "" for any other error.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return ""
}

// Invalid reports bad input for one field.
func Invalid(field, format string, args ...any) error {
	return &Error{Kind: KindInvalid, Message: field + ": " + fmt.Sprintf(format, args...)}
}

// NotFound reports a missing object, e.g. NotFound("service account", "ci-bot").
func NotFound(what, ref string) error {
	return &Error{Kind: KindNotFound, Message: fmt.Sprintf("%s %q not found", what, ref)}
}

// Errorf builds an Error of the given kind.
func Errorf(kind Kind, format string, args ...any) error {
	return &Error{Kind: kind, Message: fmt.Sprintf(format, args...)}
}
