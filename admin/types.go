package admin

import (
	"bytes"
	"encoding/json"

	"github.com/sagate/sagate/keystore"
)

// The JSON bodies of the admin API, shared by the server and the Client. Objects in
// answers are keystore's own types.

// CreateWorkspaceRequest is the body of POST /v1/workspaces.
type CreateWorkspaceRequest struct {
	Name string `json:"name"`
	// MaxServiceAccounts bounds the workspace's accounts. Default (absent or 0): keystore.DefaultMaxServiceAccounts.
	MaxServiceAccounts int `json:"max_service_accounts,omitempty"`
}

// UpdateWorkspaceRequest is the body of PATCH /v1/workspaces/{ws}. A nil field is left unchanged.
type UpdateWorkspaceRequest struct {
	// MaxServiceAccounts bounds the workspace's accounts, from 1 to keystore.MaxServiceAccountsLimit.
	MaxServiceAccounts *int `json:"max_service_accounts,omitempty"`
}

// CreateServiceAccountRequest is the body of POST /v1/workspaces/{ws}/service-accounts.
type CreateServiceAccountRequest struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	// AllProjectsRole, when set, grants this role on project "*".
	AllProjectsRole string `json:"all_projects_role,omitempty"`
	// CreateKey issues a first key. Default (absent): true.
	CreateKey *bool `json:"create_key,omitempty"`
	// KeyExpiresIn is the first key's lifetime ("90d"). Default (absent): never expires.
	KeyExpiresIn string `json:"key_expires_in,omitempty"`
	// Owner is the principal responsible for the account: sa:<id or name> of the
	// workspace or person:<name>. Default (absent): none.
	Owner string `json:"owner,omitempty"`
}

// ServiceAccountWithKey answers service-account create and reactivate. APIKey is nil
// (JSON null) when no key was issued; it holds the only copy of the secret.
type ServiceAccountWithKey struct {
	ServiceAccount keystore.ServiceAccount `json:"service_account"`
	APIKey         *keystore.IssuedKey     `json:"api_key"`
}

// UpdateServiceAccountRequest is the body of PATCH /v1/workspaces/{ws}/service-accounts/{sa}.
// A nil Description leaves it unchanged.
type UpdateServiceAccountRequest struct {
	Description *string `json:"description,omitempty"`
	// Owner, when present, replaces the account's owner: sa:<id or name> of the
	// workspace, person:<name>, or "" for none.
	Owner *string `json:"owner,omitempty"`
	// RateLimit, when present, replaces the account's rate limit: {"rps": N, "burst":
	// M} (burst absent or 0: the rate rounded up), or null for none.
	RateLimit RateLimitPatch `json:"rate_limit,omitzero"`
}

// RateLimitPatch is the rate_limit member of a PATCH, which tells absent (Set false:
// unchanged) from null (Set true, Limit nil: none).
type RateLimitPatch struct {
	Set   bool
	Limit *keystore.RateLimit
}

// SetRateLimit returns the patch that sets the limit rl, or clears it (nil).
func SetRateLimit(rl *keystore.RateLimit) RateLimitPatch { return RateLimitPatch{Set: true, Limit: rl} }

// IsZero reports whether the member is absent (omitzero).
func (p RateLimitPatch) IsZero() bool { return !p.Set }

// MarshalJSON writes the limit, or null.
func (p RateLimitPatch) MarshalJSON() ([]byte, error) { return json.Marshal(p.Limit) }

// UnmarshalJSON reads the limit, or null. Unknown members are refused, as everywhere in
// the API's bodies.
func (p *RateLimitPatch) UnmarshalJSON(b []byte) error {
	p.Set, p.Limit = true, nil
	if string(b) == "null" {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var rl keystore.RateLimit
	if err := dec.Decode(&rl); err != nil {
		return err
	}
	p.Limit = &rl
	return nil
}

// CreateKeyRequest is the body of POST …/service-accounts/{sa}/keys.
type CreateKeyRequest struct {
	// Name of the key. Default: "default".
	Name string `json:"name,omitempty"`
	// ExpiresIn is the key's lifetime ("30d"). Default: never expires.
	ExpiresIn string `json:"expires_in,omitempty"`
}

// RotateKeyRequest is the body of POST …/keys/{key}/rotate.
type RotateKeyRequest struct {
	// Retain keeps the old key valid this long ("60m"). Default (absent, "" or "0"): revoked now.
	Retain string `json:"retain,omitempty"`
	// ExpiresIn is the successor's lifetime. Default: never expires.
	ExpiresIn string `json:"expires_in,omitempty"`
	// Force rotates a key that already has a live successor (else 409 already_rotated).
	Force bool `json:"force,omitempty"`
}

// RevokeAllResponse answers POST …/keys/revoke-all: the account and how many keys were revoked.
type RevokeAllResponse struct {
	keystore.ServiceAccount
	Revoked int `json:"revoked"`
}

// SetGrantRequest is the body of PUT /v1/workspaces/{ws}/projects/{project}/service-accounts/{sa}.
type SetGrantRequest struct {
	Role string `json:"role"`
}

// List is one page of a list answer.
type List[T any] struct {
	Items []T `json:"items"`
	// NextPageToken fetches the next page; empty on the last page.
	NextPageToken string `json:"next_page_token"`
}

// ErrorBody is the JSON of every error answer.
type ErrorBody struct {
	Error ErrorDetail `json:"error"`
}

// ErrorDetail is the code and message of an error answer.
type ErrorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}
