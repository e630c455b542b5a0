package keystore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/sagate/sagate/keystore/wire"
)

// getAccount resolves ref in workspace ws: an id (sa_…), a name, or a full name
// name@workspace whose workspace is ws. A full name of another workspace is KindInvalid
// (400) whether or not that account exists: the answer does not depend on what another
// workspace holds.
func getAccount(ctx context.Context, tx Tx, ws, ref string) (ServiceAccount, error) {
	if _, err := getWorkspace(ctx, tx, ws); err != nil {
		return ServiceAccount{}, err
	}
	var (
		sa    ServiceAccount
		ok    bool
		err   error
		shown = ref // how a missing account is named
	)
	name, inWS, full := strings.Cut(ref, "@")
	switch {
	case strings.HasPrefix(ref, ServiceAccountIDPrefix):
		if !isID(ref, ServiceAccountIDPrefix) {
			return ServiceAccount{}, NotFound("service account", truncate(ref, 64))
		}
		sa, ok, err = tx.GetServiceAccountByID(ctx, ws, ref)
	case full && wire.ValidSlug(name) && wire.ValidSlug(inWS):
		if inWS != ws {
			return ServiceAccount{}, Invalid("service_account", "%q is in workspace %q, not in %q", ref, inWS, ws)
		}
		sa, ok, err = tx.GetServiceAccountByName(ctx, ws, name)
	case !full && wire.ValidSlug(ref):
		sa, ok, err = tx.GetServiceAccountByName(ctx, ws, ref)
		shown = FullName(ref, ws)
	default:
		return ServiceAccount{}, Invalid("service_account", "must be an id (sa_…), a name, or a full name name@%s", ws)
	}
	if err != nil {
		return ServiceAccount{}, err
	}
	if !ok {
		return ServiceAccount{}, NotFound("service account", shown)
	}
	return sa, nil
}

// CreateServiceAccount creates an account and, if asked, its first key.
// The workspace's max_service_accounts is checked and the account inserted in one
// transaction holding the workspace lock, so no race lets one more in.
func (s *Service) CreateServiceAccount(ctx context.Context, ws string, in CreateServiceAccountInput) (ServiceAccount, *IssuedKey, error) {
	if err := ValidateSlug("name", in.Name); err != nil {
		return ServiceAccount{}, nil, err
	}
	if err := ValidateDescription(in.Description); err != nil {
		return ServiceAccount{}, nil, err
	}
	if in.AllProjectsRole != "" {
		if _, err := ParseRole(string(in.AllProjectsRole)); err != nil {
			return ServiceAccount{}, nil, Invalid("all_projects_role", "must be one of viewer, contributor, owner")
		}
	}
	if err := checkExpiresIn("key_expires_in", in.KeyExpiresIn); err != nil {
		return ServiceAccount{}, nil, err
	}
	var (
		sa  ServiceAccount
		key *IssuedKey
	)
	err := s.update(ctx, "service_account.create", scope{ws: ws}, func(tx Tx, m *mutation) error {
		w, err := getWorkspace(ctx, tx, ws)
		if err != nil {
			return err
		}
		if err := tx.LockWorkspace(ctx, ws); err != nil {
			return err
		}
		n, err := tx.CountServiceAccounts(ctx, ws)
		if err != nil {
			return err
		}
		if n >= w.MaxServiceAccounts {
			return limitReached(w)
		}
		id, err := newID(ServiceAccountIDPrefix)
		if err != nil {
			return err
		}
		sa = ServiceAccount{
			ID: id, Name: in.Name, Workspace: ws, FullName: FullName(in.Name, ws), Description: in.Description,
			State: AccountActive, CreatedBy: m.principal.Ref(), CreatedAt: m.now, UpdatedAt: m.now,
		}
		if in.Owner != "" {
			if sa.Owner, _, err = resolveAdminRef(ctx, tx, ws, in.Owner); err != nil {
				return ownerErr(err)
			}
		}
		if err := tx.InsertServiceAccount(ctx, sa); err != nil {
			if errors.Is(err, ErrConflict) {
				return Errorf(KindNameTaken, "service account %q already exists in workspace %q", in.Name, ws)
			}
			return err
		}
		details := map[string]string{"name": in.Name}
		if sa.Owner != "" {
			details["owner"] = sa.Owner
		}
		if in.AllProjectsRole != "" {
			g := Grant{Workspace: ws, Project: AllProjects, ServiceAccountID: id, ServiceAccount: sa.FullName,
				Role: in.AllProjectsRole, CreatedAt: m.now, UpdatedAt: m.now}
			if err := tx.PutGrant(ctx, g); err != nil {
				return err
			}
			details["all_projects_role"] = string(in.AllProjectsRole)
		}
		key = nil
		if in.CreateKey {
			k, err := s.issueKey(ctx, tx, m, sa, DefaultKeyName, in.KeyExpiresIn)
			if err != nil {
				return err
			}
			key = &k
			details["key_id"], details["key_last6"] = k.ID, k.Last6
		}
		return m.audit(tx, ws, id, details)
	})
	if err != nil {
		return ServiceAccount{}, nil, err
	}
	return sa, key, nil
}

// ListServiceAccounts lists a workspace's accounts by name.
func (s *Service) ListServiceAccounts(ctx context.Context, ws string, p Page) ([]ServiceAccount, string, error) {
	return s.FindServiceAccounts(ctx, ws, AccountFilter{}, p)
}

// AccountFilter narrows FindServiceAccounts. Zero fields do not filter.
type AccountFilter struct {
	// Owner is the accounts' owner as SetServiceAccountOwner takes it: "sa:<id, name or
	// name@ws>" of the workspace or "person:<name>". An account that does not exist is an
	// error; a person who owns nothing finds nothing.
	Owner string
	State AccountState // AccountActive or AccountDeactivated
}

// FindServiceAccounts lists the accounts of a workspace that f matches, by name. It reads
// the workspace's accounts in pages until a page of matches is full.
func (s *Service) FindServiceAccounts(ctx context.Context, ws string, f AccountFilter, p Page) ([]ServiceAccount, string, error) {
	if f.State != "" && f.State != AccountActive && f.State != AccountDeactivated {
		return nil, "", Invalid("state", "must be %s or %s", AccountActive, AccountDeactivated)
	}
	if err := checkActor(f.Owner); err != nil || strings.HasPrefix(f.Owner, PrincipalRefOperator) {
		return nil, "", Invalid("owner", "must be sa:<id or name> of the workspace or person:<name>")
	}
	size, after, err := parsePage(p, 1)
	if err != nil {
		return nil, "", err
	}
	var sas []ServiceAccount
	err = s.view(ctx, "service_account.list", scope{ws: ws}, func(tx Tx) error {
		if _, err := getWorkspace(ctx, tx, ws); err != nil {
			return err
		}
		owner := ""
		if f.Owner != "" {
			if owner, _, err = resolveAdminRef(ctx, tx, ws, f.Owner); err != nil {
				return ownerErr(err)
			}
		}
		from := after[0]
		for {
			page, err := tx.ListServiceAccounts(ctx, ws, from, size+1)
			if err != nil {
				return err
			}
			for _, sa := range page {
				if (owner == "" || sa.Owner == owner) && (f.State == "" || sa.State == f.State) {
					sas = append(sas, sa)
				}
			}
			if len(sas) > size || len(page) <= size {
				return nil
			}
			from = page[len(page)-1].Name
		}
	})
	if err != nil {
		return nil, "", err
	}
	sas, next := nextPage(sas, size, func(sa ServiceAccount) []string { return []string{sa.Name} })
	return sas, next, nil
}

// GetServiceAccount reads an account by id or name.
func (s *Service) GetServiceAccount(ctx context.Context, ws, ref string) (ServiceAccount, error) {
	var sa ServiceAccount
	err := s.view(ctx, "service_account.read", scope{ws: ws, sa: ref}, func(tx Tx) error {
		var err error
		sa, err = getAccount(ctx, tx, ws, ref)
		return err
	})
	return sa, err
}

// UpdateServiceAccount changes the description (nil: unchanged).
func (s *Service) UpdateServiceAccount(ctx context.Context, ws, ref string, description *string) (ServiceAccount, error) {
	if description == nil {
		return s.GetServiceAccount(ctx, ws, ref)
	}
	if err := ValidateDescription(*description); err != nil {
		return ServiceAccount{}, err
	}
	var sa ServiceAccount
	err := s.update(ctx, "service_account.update", scope{ws: ws, sa: ref}, func(tx Tx, m *mutation) error {
		var err error
		if sa, err = getAccount(ctx, tx, ws, ref); err != nil {
			return err
		}
		sa.Description, sa.UpdatedAt = *description, m.now
		if err := tx.UpdateServiceAccount(ctx, sa); err != nil {
			return err
		}
		return m.audit(tx, ws, sa.ID, map[string]string{"name": sa.Name, "description": truncate(*description, 128)})
	})
	return sa, err
}

// DeleteServiceAccount revokes every key, removes grants and frees the name.
func (s *Service) DeleteServiceAccount(ctx context.Context, ws, ref string) error {
	return s.update(ctx, "service_account.delete", scope{ws: ws, sa: ref}, func(tx Tx, m *mutation) error {
		sa, err := getAccount(ctx, tx, ws, ref)
		if err != nil {
			return err
		}
		n, err := s.revokeAll(ctx, tx, m, sa.ID)
		if err != nil {
			return err
		}
		if err := tx.DeleteServiceAccount(ctx, sa.ID); err != nil {
			return err
		}
		if _, err := tx.DeleteWorkspaceAdmin(ctx, ws, PrincipalRefSA+sa.ID); err != nil {
			return err
		}
		return m.audit(tx, ws, sa.ID, map[string]string{"name": sa.Name, "keys_revoked": fmt.Sprint(n)})
	})
}

// DeactivateServiceAccount stops every key of the account at once.
func (s *Service) DeactivateServiceAccount(ctx context.Context, ws, ref string) (ServiceAccount, error) {
	var sa ServiceAccount
	err := s.update(ctx, "service_account.deactivate", scope{ws: ws, sa: ref}, func(tx Tx, m *mutation) error {
		var err error
		if sa, err = getAccount(ctx, tx, ws, ref); err != nil {
			return err
		}
		if sa.State != AccountActive {
			return Errorf(KindState, "service account %q is already deactivated", sa.Name)
		}
		sa.State, sa.UpdatedAt = AccountDeactivated, m.now
		if err := tx.UpdateServiceAccount(ctx, sa); err != nil {
			return err
		}
		keys, err := tx.UnrevokedKeys(ctx, sa.ID)
		if err != nil {
			return err
		}
		m.touch(keys...)
		return m.audit(tx, ws, sa.ID, map[string]string{"name": sa.Name})
	})
	return sa, err
}

// ReactivateServiceAccount revokes every old key and issues one fresh key.
func (s *Service) ReactivateServiceAccount(ctx context.Context, ws, ref string) (ServiceAccount, IssuedKey, error) {
	var (
		sa  ServiceAccount
		key IssuedKey
	)
	err := s.update(ctx, "service_account.reactivate", scope{ws: ws, sa: ref}, func(tx Tx, m *mutation) error {
		var err error
		if sa, err = getAccount(ctx, tx, ws, ref); err != nil {
			return err
		}
		if sa.State != AccountDeactivated {
			return Errorf(KindState, "service account %q is already active", sa.Name)
		}
		n, err := s.revokeAll(ctx, tx, m, sa.ID)
		if err != nil {
			return err
		}
		sa.State, sa.UpdatedAt = AccountActive, m.now
		if err := tx.UpdateServiceAccount(ctx, sa); err != nil {
			return err
		}
		if key, err = s.issueKey(ctx, tx, m, sa, DefaultKeyName, 0); err != nil {
			return err
		}
		return m.audit(tx, ws, sa.ID, map[string]string{
			"name": sa.Name, "keys_revoked": fmt.Sprint(n), "key_id": key.ID, "key_last6": key.Last6,
		})
	})
	return sa, key, err
}

// limitReached is the KindLimitReached error of a full workspace: it says how to raise the limit.
func limitReached(w Workspace) error {
	msg := fmt.Sprintf("workspace %q already has its maximum of %d service accounts", w.Name, w.MaxServiceAccounts)
	if w.MaxServiceAccounts >= MaxServiceAccountsLimit {
		return Errorf(KindLimitReached, "%s, the highest limit there is", msg)
	}
	n := min(2*max(w.MaxServiceAccounts, 1), MaxServiceAccountsLimit)
	return Errorf(KindLimitReached,
		"%s; raise it with PATCH /v1/workspaces/%s {\"max_service_accounts\": %d} (sagate workspace update %s --max-service-accounts %d)",
		msg, w.Name, n, w.Name, n)
}

// ownerErr names the owner field in a refusal of the principal given as an owner.
func ownerErr(err error) error {
	if e, ok := errors.AsType[*Error](err); ok && e.Kind == KindInvalid {
		return Invalid("owner", "must be sa:<id or name> of the workspace or person:<name>")
	}
	return err
}

// SetServiceAccountOwner makes owner ("sa:<id, name or name@ws>" of the workspace or
// "person:<name>"; "" for none) the principal responsible for the account. Whoever may
// update the account may set it.
func (s *Service) SetServiceAccountOwner(ctx context.Context, ws, ref, owner string) (ServiceAccount, error) {
	var sa ServiceAccount
	err := s.update(ctx, "service_account.update", scope{ws: ws, sa: ref}, func(tx Tx, m *mutation) error {
		var err error
		if sa, err = getAccount(ctx, tx, ws, ref); err != nil {
			return err
		}
		previous := sa.Owner
		sa.Owner = ""
		if owner != "" {
			if sa.Owner, _, err = resolveAdminRef(ctx, tx, ws, owner); err != nil {
				return ownerErr(err)
			}
		}
		if sa.Owner == previous {
			return nil
		}
		sa.UpdatedAt = m.now
		if err := tx.UpdateServiceAccount(ctx, sa); err != nil {
			return err
		}
		return m.audit(tx, ws, sa.ID, map[string]string{"name": sa.Name, "owner": sa.Owner, "previous_owner": previous})
	})
	return sa, err
}

// SetServiceAccountRateLimit sets the account's rate limit (CheckRateLimit), or
// removes it (nil: unlimited), and rewrites the records of its keys, which carry it to
// the sidecars. A service account may not change its own limit, not even as a
// workspace admin (access rule service_account.set_rate_limit).
func (s *Service) SetServiceAccountRateLimit(ctx context.Context, ws, ref string, rl *RateLimit) (ServiceAccount, error) {
	if rl != nil {
		checked, err := CheckRateLimit(*rl)
		if err != nil {
			return ServiceAccount{}, err
		}
		rl = &checked
	}
	var sa ServiceAccount
	err := s.update(ctx, "service_account.set_rate_limit", scope{ws: ws, sa: ref}, func(tx Tx, m *mutation) error {
		var err error
		if sa, err = getAccount(ctx, tx, ws, ref); err != nil {
			return err
		}
		previous := sa.RateLimit
		if equalRateLimits(previous, rl) {
			return nil
		}
		sa.RateLimit, sa.UpdatedAt = rl, m.now
		if err := tx.UpdateServiceAccount(ctx, sa); err != nil {
			return err
		}
		if err := touchAccount(ctx, tx, m, sa.ID); err != nil {
			return err
		}
		return m.audit(tx, ws, sa.ID, map[string]string{
			"name": sa.Name, "rate_limit": rateLimitText(rl), "previous_rate_limit": rateLimitText(previous),
		})
	})
	return sa, err
}

// equalRateLimits reports whether a and b are the same limit (nil: none).
func equalRateLimits(a, b *RateLimit) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

// rateLimitText is how the audit log writes a limit: "RPS/BURST", or "none".
func rateLimitText(rl *RateLimit) string {
	if rl == nil {
		return "none"
	}
	return strconv.FormatFloat(rl.RPS, 'g', -1, 64) + "/" + strconv.FormatInt(rl.Burst, 10)
}
