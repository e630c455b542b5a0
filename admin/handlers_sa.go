package admin

import (
	"net/http"

	"github.com/sagate/sagate/keystore"
)

// createServiceAccount: POST /v1/workspaces/{ws}/service-accounts → 201 {service_account, api_key}.
func (s *Server) createServiceAccount(w http.ResponseWriter, r *http.Request) error {
	var in CreateServiceAccountRequest
	if err := s.decodeBody(w, r, &in, false); err != nil {
		return err
	}
	role, err := optRole(in.AllProjectsRole)
	if err != nil {
		return keystore.Invalid("all_projects_role", "must be one of viewer, contributor, owner")
	}
	exp, err := optDuration("key_expires_in", in.KeyExpiresIn)
	if err != nil {
		return err
	}
	createKey := in.CreateKey == nil || *in.CreateKey
	if !createKey && in.KeyExpiresIn != "" {
		return keystore.Invalid("key_expires_in", "cannot be given with create_key false")
	}
	sa, key, err := s.svc.CreateServiceAccount(r.Context(), r.PathValue("ws"), keystore.CreateServiceAccountInput{
		Name:            in.Name,
		Description:     in.Description,
		AllProjectsRole: role,
		CreateKey:       createKey,
		KeyExpiresIn:    exp,
		Owner:           in.Owner,
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, ServiceAccountWithKey{ServiceAccount: sa, APIKey: key})
	return nil
}

// listServiceAccounts: GET /v1/workspaces/{ws}/service-accounts[?owner=P&state=S] →
// {items, next_page_token}.
func (s *Server) listServiceAccounts(w http.ResponseWriter, r *http.Request) error {
	p, err := pageOf(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	f := keystore.AccountFilter{Owner: q.Get("owner"), State: keystore.AccountState(q.Get("state"))}
	items, next, err := s.svc.FindServiceAccounts(r.Context(), r.PathValue("ws"), f, p)
	if err != nil {
		return err
	}
	writeList(w, items, next)
	return nil
}

// getServiceAccount: GET …/service-accounts/{sa} → 200 the account.
func (s *Server) getServiceAccount(w http.ResponseWriter, r *http.Request) error {
	sa, err := s.svc.GetServiceAccount(r.Context(), r.PathValue("ws"), r.PathValue("sa"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, sa)
	return nil
}

// updateServiceAccount: PATCH …/service-accounts/{sa} {description?, owner?,
// rate_limit?} → 200 the account.
func (s *Server) updateServiceAccount(w http.ResponseWriter, r *http.Request) error {
	var in UpdateServiceAccountRequest
	if err := s.decodeBody(w, r, &in, false); err != nil {
		return err
	}
	if in.Description != nil { // checked before the owner changes, so a bad body changes nothing
		if err := keystore.ValidateDescription(*in.Description); err != nil {
			return err
		}
	}
	if in.RateLimit.Limit != nil {
		if _, err := keystore.CheckRateLimit(*in.RateLimit.Limit); err != nil {
			return err
		}
	}
	ws, ref := r.PathValue("ws"), r.PathValue("sa")
	if in.RateLimit.Set {
		if _, err := s.svc.SetServiceAccountRateLimit(r.Context(), ws, ref, in.RateLimit.Limit); err != nil {
			return err
		}
	}
	if in.Owner != nil {
		if _, err := s.svc.SetServiceAccountOwner(r.Context(), ws, ref, *in.Owner); err != nil {
			return err
		}
	}
	sa, err := s.svc.UpdateServiceAccount(r.Context(), ws, ref, in.Description)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, sa)
	return nil
}

// deleteServiceAccount: DELETE …/service-accounts/{sa} → 204.
func (s *Server) deleteServiceAccount(w http.ResponseWriter, r *http.Request) error {
	if err := s.svc.DeleteServiceAccount(r.Context(), r.PathValue("ws"), r.PathValue("sa")); err != nil {
		return err
	}
	noContent(w)
	return nil
}

// deactivateServiceAccount: POST …/service-accounts/{sa}/deactivate → 200 the account.
func (s *Server) deactivateServiceAccount(w http.ResponseWriter, r *http.Request) error {
	sa, err := s.svc.DeactivateServiceAccount(r.Context(), r.PathValue("ws"), r.PathValue("sa"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, sa)
	return nil
}

// reactivateServiceAccount: POST …/service-accounts/{sa}/reactivate → 200 {service_account, api_key}.
func (s *Server) reactivateServiceAccount(w http.ResponseWriter, r *http.Request) error {
	sa, key, err := s.svc.ReactivateServiceAccount(r.Context(), r.PathValue("ws"), r.PathValue("sa"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, ServiceAccountWithKey{ServiceAccount: sa, APIKey: &key})
	return nil
}

// noContent answers 204.
func noContent(w http.ResponseWriter) {
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusNoContent)
}
