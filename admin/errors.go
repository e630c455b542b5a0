package admin

import (
	"errors"
	"net/http"

	"go.uber.org/zap"

	"github.com/sagate/sagate/keystore"
)

// Error codes the admin API adds to keystore's kinds.
const (
	CodeUnauthenticated  = "unauthenticated"
	CodeNotFound         = string(keystore.KindNotFound)
	CodeInvalid          = string(keystore.KindInvalid)
	CodeMethodNotAllowed = "method_not_allowed"
	CodeTooLarge         = "payload_too_large"
	CodeInternal         = "internal"
	CodePermissionDenied = string(keystore.KindPermissionDenied)
)

// httpError is a failure of the HTTP layer itself, with a message safe to show.
type httpError struct {
	status  int
	code    string
	message string
}

func (e *httpError) Error() string { return e.message }

func badRequest(msg string) error {
	return &httpError{status: http.StatusBadRequest, code: CodeInvalid, message: msg}
}

// statusOf maps a keystore error kind to its HTTP status (see keystore/errors.go).
func statusOf(k keystore.Kind) int {
	switch k {
	case keystore.KindInvalid:
		return http.StatusBadRequest
	case keystore.KindNotFound:
		return http.StatusNotFound
	case keystore.KindNameTaken, keystore.KindLimitReached, keystore.KindAmbiguous, keystore.KindAlreadyRotated:
		return http.StatusConflict
	case keystore.KindState:
		return http.StatusUnprocessableEntity
	case keystore.KindUnauthenticated:
		return http.StatusUnauthorized
	case keystore.KindPermissionDenied:
		return http.StatusForbidden
	}
	return http.StatusInternalServerError
}

// writeError answers err as {"error": {...}}. Rule violations carry their own safe message;
// anything else is a 500 whose cause is logged, never shown.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var he *httpError
	var ke *keystore.Error
	switch {
	case errors.As(err, &he):
		writeErrorBody(w, he.status, he.code, he.message)
	case errors.As(err, &ke) && ke.Kind == keystore.KindUnauthenticated:
		unauthenticated(w, ke.Message) // e.g. the key was revoked after the request was authenticated
	case errors.As(err, &ke) && statusOf(ke.Kind) != http.StatusInternalServerError:
		writeErrorBody(w, statusOf(ke.Kind), string(ke.Kind), ke.Message)
	default:
		s.log.Error("admin request failed",
			zap.String("method", r.Method),
			zap.String("route", routeOf(r)),
			zap.Error(err))
		writeErrorBody(w, http.StatusInternalServerError, CodeInternal, "internal error; see the admin's logs")
	}
}

func writeErrorBody(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, ErrorBody{Error: ErrorDetail{Code: code, Message: msg}})
}
