package admin

import (
	"net/http"
	"time"

	"github.com/sagate/sagate/keystore"
)

// createKey: POST …/service-accounts/{sa}/keys {name?, expires_in?} → 201 the issued key.
func (s *Server) createKey(w http.ResponseWriter, r *http.Request) error {
	var in CreateKeyRequest
	if err := s.decodeBody(w, r, &in, true); err != nil {
		return err
	}
	exp, err := optDuration("expires_in", in.ExpiresIn)
	if err != nil {
		return err
	}
	key, err := s.svc.CreateKey(r.Context(), r.PathValue("ws"), r.PathValue("sa"),
		keystore.CreateKeyInput{Name: in.Name, ExpiresIn: exp})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, key)
	return nil
}

// listKeys: GET …/service-accounts/{sa}/keys → {items, next_page_token}; never a secret or a hash.
func (s *Server) listKeys(w http.ResponseWriter, r *http.Request) error {
	p, err := pageOf(r)
	if err != nil {
		return err
	}
	items, next, err := s.svc.ListKeys(r.Context(), r.PathValue("ws"), r.PathValue("sa"), p)
	if err != nil {
		return err
	}
	writeList(w, items, next)
	return nil
}

// rotateKey: POST …/keys/{key}/rotate {retain?, expires_in?, force?} → 201 the successor;
// 409 already_rotated when the key has a live successor and force is not set. retain
// absent, "" or "0" revokes the old key at once.
func (s *Server) rotateKey(w http.ResponseWriter, r *http.Request) error {
	var in RotateKeyRequest
	if err := s.decodeBody(w, r, &in, true); err != nil {
		return err
	}
	var retain time.Duration
	if in.Retain != "0" {
		var err error
		if retain, err = optDuration("retain", in.Retain); err != nil {
			return err
		}
	}
	exp, err := optDuration("expires_in", in.ExpiresIn)
	if err != nil {
		return err
	}
	key, err := s.svc.RotateKeyWith(r.Context(), r.PathValue("ws"), r.PathValue("sa"), r.PathValue("key"),
		keystore.RotateKeyInput{Retain: retain, ExpiresIn: exp, Force: in.Force})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, key)
	return nil
}

// deactivateKey: POST …/keys/{key}/deactivate → 200 the key.
func (s *Server) deactivateKey(w http.ResponseWriter, r *http.Request) error {
	k, err := s.svc.DeactivateKey(r.Context(), r.PathValue("ws"), r.PathValue("sa"), r.PathValue("key"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, k)
	return nil
}

// activateKey: POST …/keys/{key}/activate → 200 the key.
func (s *Server) activateKey(w http.ResponseWriter, r *http.Request) error {
	k, err := s.svc.ActivateKey(r.Context(), r.PathValue("ws"), r.PathValue("sa"), r.PathValue("key"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, k)
	return nil
}

// revokeKey: DELETE …/keys/{key} → 204.
func (s *Server) revokeKey(w http.ResponseWriter, r *http.Request) error {
	if err := s.svc.RevokeKey(r.Context(), r.PathValue("ws"), r.PathValue("sa"), r.PathValue("key")); err != nil {
		return err
	}
	noContent(w)
	return nil
}

// revokeAllKeys: POST …/keys/revoke-all → 200 the account plus "revoked", the number of keys revoked.
func (s *Server) revokeAllKeys(w http.ResponseWriter, r *http.Request) error {
	sa, n, err := s.svc.RevokeAllKeys(r.Context(), r.PathValue("ws"), r.PathValue("sa"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, RevokeAllResponse{ServiceAccount: sa, Revoked: n})
	return nil
}
