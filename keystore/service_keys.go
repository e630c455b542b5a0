package keystore

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// checkExpiresIn accepts 0 (never) or a duration in (0, MaxDuration].
func checkExpiresIn(field string, d time.Duration) error {
	if d < 0 {
		return Invalid(field, "must be greater than 0")
	}
	if d > MaxDuration {
		return Invalid(field, "must be at most 3650d")
	}
	return nil
}

// getKey resolves ref (an id key_… or a last6) among the keys of account saID.
func getKey(ctx context.Context, tx Tx, saID, ref string) (StoredKey, error) {
	if strings.HasPrefix(ref, KeyIDPrefix) {
		if !isID(ref, KeyIDPrefix) {
			return StoredKey{}, NotFound("key", truncate(ref, 64))
		}
		k, ok, err := tx.GetKey(ctx, saID, ref)
		if err != nil {
			return StoredKey{}, err
		}
		if !ok {
			return StoredKey{}, NotFound("key", ref)
		}
		return k, nil
	}
	if len(ref) != 6 || !isBase62String(ref) {
		return StoredKey{}, Invalid("key", "must be a key id (key_…) or the key's last six characters")
	}
	ks, err := tx.FindKeysByLast6(ctx, saID, ref)
	if err != nil {
		return StoredKey{}, err
	}
	switch len(ks) {
	case 0:
		return StoredKey{}, NotFound("key", ref)
	case 1:
		return ks[0], nil
	}
	return StoredKey{}, Errorf(KindAmbiguous, "%d keys of this service account end in %q; use the key id", len(ks), ref)
}

// accountKey resolves an account of ws and one of its keys (getAccount, getKey).
func accountKey(ctx context.Context, tx Tx, ws, saRef, keyRef string) (ServiceAccount, StoredKey, error) {
	sa, err := getAccount(ctx, tx, ws, saRef)
	if err != nil {
		return ServiceAccount{}, StoredKey{}, err
	}
	k, err := getKey(ctx, tx, sa.ID, keyRef)
	return sa, k, err
}

func isBase62String(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isBase62(s[i]) {
			return false
		}
	}
	return true
}

// publicKey describes k, a key of sa, at now, without its hash.
func publicKey(k StoredKey, sa ServiceAccount, now time.Time) APIKey {
	a := k.APIKey
	usability(&a, sa.State, now)
	return a
}

// issueKey generates a key for sa and stores only its hash. It returns the one answer
// that ever carries the secret.
func (s *Service) issueKey(ctx context.Context, tx Tx, m *mutation, sa ServiceAccount, name string, expiresIn time.Duration) (IssuedKey, error) {
	secret, err := GenerateKey()
	if err != nil {
		return IssuedKey{}, err
	}
	id, err := newID(KeyIDPrefix)
	if err != nil {
		return IssuedKey{}, err
	}
	k := StoredKey{
		APIKey: APIKey{ID: id, ServiceAccountID: sa.ID, Name: name, Last6: Last6(secret), State: KeyActive, CreatedAt: m.now},
		Hash:   HashKey(secret),
	}
	if expiresIn > 0 {
		// Whole milliseconds: the Redis record carries exp in Unix ms, so the sidecar and
		// the store agree on the instant.
		exp := m.now.Add(expiresIn).Truncate(time.Millisecond)
		k.ExpiresAt = &exp
	}
	if err := tx.InsertKey(ctx, k); err != nil {
		return IssuedKey{}, err // a collision of 256-bit keys or 119-bit ids: report, don't retry
	}
	m.touch(k)
	m.issued++
	return IssuedKey{ID: id, Name: name, Key: secret, Last6: k.Last6, CreatedAt: k.CreatedAt, ExpiresAt: k.ExpiresAt}, nil
}

// revoke revokes k now.
func revoke(ctx context.Context, tx Tx, m *mutation, k *StoredKey) error {
	now := m.now
	k.State, k.RevokedAt = KeyRevoked, &now
	if err := tx.UpdateKey(ctx, *k); err != nil {
		return err
	}
	m.touch(*k)
	m.revoked++
	return nil
}

// revokeAll revokes every key of saID that is not revoked yet and returns how many.
func (s *Service) revokeAll(ctx context.Context, tx Tx, m *mutation, saID string) (int, error) {
	keys, err := tx.UnrevokedKeys(ctx, saID)
	if err != nil {
		return 0, err
	}
	for i := range keys {
		if err := revoke(ctx, tx, m, &keys[i]); err != nil {
			return 0, err
		}
	}
	return len(keys), nil
}

// CreateKey issues a key to an active account.
func (s *Service) CreateKey(ctx context.Context, ws, saRef string, in CreateKeyInput) (IssuedKey, error) {
	name := in.Name
	if name == "" {
		name = DefaultKeyName
	}
	if err := ValidateKeyName(name); err != nil {
		return IssuedKey{}, err
	}
	if err := checkExpiresIn("expires_in", in.ExpiresIn); err != nil {
		return IssuedKey{}, err
	}
	var key IssuedKey
	err := s.update(ctx, "key.create", scope{ws: ws, sa: saRef}, func(tx Tx, m *mutation) error {
		sa, err := getAccount(ctx, tx, ws, saRef)
		if err != nil {
			return err
		}
		if sa.State != AccountActive {
			return Errorf(KindState, "service account %q is deactivated; reactivate it to get a key", sa.Name)
		}
		if key, err = s.issueKey(ctx, tx, m, sa, name, in.ExpiresIn); err != nil {
			return err
		}
		return m.audit(tx, ws, key.ID, map[string]string{"service_account": sa.Name, "name": name, "last6": key.Last6})
	})
	return key, err
}

// ListKeys lists an account's keys, oldest first; never a secret or a hash.
func (s *Service) ListKeys(ctx context.Context, ws, saRef string, p Page) ([]APIKey, string, error) {
	size, after, err := parsePage(p, 2)
	if err != nil {
		return nil, "", err
	}
	var afterCreated time.Time
	if after[1] != "" {
		us, err := parseInt(after[0])
		if err != nil {
			return nil, "", Invalid("page_token", "is not a token from a previous page of this list")
		}
		afterCreated = fromMicro(us)
	}
	var (
		keys []StoredKey
		sa   ServiceAccount
	)
	err = s.view(ctx, "key.list", scope{ws: ws, sa: saRef}, func(tx Tx) error {
		var err error
		if sa, err = getAccount(ctx, tx, ws, saRef); err != nil {
			return err
		}
		keys, err = tx.ListKeys(ctx, sa.ID, afterCreated, after[1], size+1)
		return err
	})
	if err != nil {
		return nil, "", err
	}
	keys, next := nextPage(keys, size, func(k StoredKey) []string {
		return []string{fmt.Sprint(k.CreatedAt.UnixMicro()), k.ID}
	})
	now := s.now()
	out := make([]APIKey, len(keys))
	for i, k := range keys {
		out[i] = publicKey(k, sa, now)
	}
	return out, next, nil
}

// RotateKeyInput is the input of Service.RotateKeyWith.
type RotateKeyInput struct {
	// Retain keeps the old key alive this long (0: revoked now).
	Retain time.Duration
	// ExpiresIn is the successor's lifetime (0: never expires).
	ExpiresIn time.Duration
	// Force rotates a key that already has a live successor, issuing another one.
	Force bool
}

// RotateKey is RotateKeyWith without force: a retried rotation is refused.
func (s *Service) RotateKey(ctx context.Context, ws, saRef, keyRef string, retain, expiresIn time.Duration) (IssuedKey, error) {
	return s.RotateKeyWith(ctx, ws, saRef, keyRef, RotateKeyInput{Retain: retain, ExpiresIn: expiresIn})
}

// RotateKeyWith issues a successor (same name) and keeps the old key for in.Retain (0:
// revoked now). Only an active, unexpired key of an active account rotates. A retained
// key expires at the earlier of its own expiry and now+retain. A key that already has a
// live successor is refused (KindAlreadyRotated, naming it) unless in.Force: a retried
// rotation must not leave an extra live key. An account rotating its own key keeps to
// selfRotation's limits.
func (s *Service) RotateKeyWith(ctx context.Context, ws, saRef, keyRef string, in RotateKeyInput) (IssuedKey, error) {
	retain := in.Retain
	if retain < 0 || retain > MaxDuration {
		return IssuedKey{}, Invalid("retain", "must be between 0 and 3650d")
	}
	if err := checkExpiresIn("expires_in", in.ExpiresIn); err != nil {
		return IssuedKey{}, err
	}
	var key IssuedKey
	err := s.update(ctx, "key.rotate", scope{ws: ws, sa: saRef}, func(tx Tx, m *mutation) error {
		sa, err := getAccount(ctx, tx, ws, saRef)
		if err != nil {
			return err
		}
		if sa.State != AccountActive {
			return Errorf(KindState, "service account %q is deactivated", sa.Name)
		}
		old, err := getKey(ctx, tx, sa.ID, keyRef)
		if err != nil {
			return err
		}
		expiresIn, err := selfRotation(m.principal, sa, old, in)
		if err != nil {
			return err
		}
		if err := rotatable(old, m.now); err != nil {
			return err
		}
		if err := liveSuccessor(ctx, tx, old, m.now, in.Force); err != nil {
			return err
		}
		if key, err = s.issueKey(ctx, tx, m, sa, old.Name, expiresIn); err != nil {
			return err
		}
		details := map[string]string{
			"service_account": sa.Name, "old_key_id": old.ID, "old_last6": old.Last6, "last6": key.Last6, "retain": retain.String(),
		}
		if in.Force {
			details["force"] = "true"
		}
		old.SuccessorID = key.ID
		if retain == 0 {
			if err := revoke(ctx, tx, m, &old); err != nil {
				return err
			}
			return m.audit(tx, ws, key.ID, details)
		}
		until := m.now.Add(retain).Truncate(time.Millisecond)
		if old.ExpiresAt == nil || until.Before(*old.ExpiresAt) {
			old.ExpiresAt = &until
		}
		if err := tx.UpdateKey(ctx, old); err != nil {
			return err
		}
		m.touch(old)
		details["old_expires_at"] = old.ExpiresAt.Format(time.RFC3339Nano)
		return m.audit(tx, ws, key.ID, details)
	})
	return key, err
}

// liveSuccessor refuses to rotate k again while the successor its last rotation issued
// is live (not revoked, not expired), unless force. The refusal names the successor by
// its last six characters, so a retried rotation can tell which key it already got.
func liveSuccessor(ctx context.Context, tx Tx, k StoredKey, now time.Time, force bool) error {
	if k.SuccessorID == "" || force {
		return nil
	}
	next, ok, err := tx.GetKey(ctx, k.ServiceAccountID, k.SuccessorID)
	if err != nil || !ok {
		return err
	}
	if next.State == KeyRevoked || (next.ExpiresAt != nil && !now.Before(*next.ExpiresAt)) {
		return nil
	}
	return Errorf(KindAlreadyRotated,
		"key %s was already rotated: its successor %s (…%s) is live; rotate again with force (--force) to issue another",
		k.ID, next.ID, next.Last6)
}

// rotatable reports why k cannot rotate at now, or nil.
func rotatable(k StoredKey, now time.Time) error {
	switch {
	case k.State != KeyActive:
		return Errorf(KindState, "key %s is %s; only an active key rotates", k.ID, k.State)
	case k.ExpiresAt != nil && !now.Before(*k.ExpiresAt):
		return Errorf(KindState, "key %s has expired; only an unexpired key rotates", k.ID)
	}
	return nil
}

// DeactivateKey pauses one active, unexpired key.
func (s *Service) DeactivateKey(ctx context.Context, ws, saRef, keyRef string) (APIKey, error) {
	return s.setKeyState(ctx, "key.deactivate", ws, saRef, keyRef, KeyActive, KeyDeactivated)
}

// ActivateKey activates one deactivated, unexpired key of an active account again.
func (s *Service) ActivateKey(ctx context.Context, ws, saRef, keyRef string) (APIKey, error) {
	return s.setKeyState(ctx, "key.activate", ws, saRef, keyRef, KeyDeactivated, KeyActive)
}

// setKeyState moves a key from state from to state to.
func (s *Service) setKeyState(ctx context.Context, action, ws, saRef, keyRef string, from, to KeyState) (APIKey, error) {
	var out APIKey
	err := s.update(ctx, action, scope{ws: ws, sa: saRef}, func(tx Tx, m *mutation) error {
		sa, k, err := accountKey(ctx, tx, ws, saRef, keyRef)
		if err != nil {
			return err
		}
		switch {
		case k.State != from:
			return Errorf(KindState, "key %s is %s; only a %s key can be made %s", k.ID, k.State, from, to)
		case k.ExpiresAt != nil && !m.now.Before(*k.ExpiresAt):
			return Errorf(KindState, "key %s has expired", k.ID)
		case to == KeyActive && sa.State != AccountActive:
			return Errorf(KindState, "service account %q is deactivated; reactivate it instead", sa.Name)
		}
		k.State = to
		if err := tx.UpdateKey(ctx, k); err != nil {
			return err
		}
		m.touch(k)
		out = publicKey(k, sa, m.now)
		return m.audit(tx, ws, k.ID, map[string]string{"service_account": sa.Name, "name": k.Name, "last6": k.Last6})
	})
	return out, err
}

// RevokeKey revokes one key for good.
func (s *Service) RevokeKey(ctx context.Context, ws, saRef, keyRef string) error {
	return s.update(ctx, "key.revoke", scope{ws: ws, sa: saRef}, func(tx Tx, m *mutation) error {
		sa, k, err := accountKey(ctx, tx, ws, saRef, keyRef)
		if err != nil {
			return err
		}
		if k.State == KeyRevoked {
			return Errorf(KindState, "key %s is already revoked", k.ID)
		}
		if err := revoke(ctx, tx, m, &k); err != nil {
			return err
		}
		return m.audit(tx, ws, k.ID, map[string]string{"service_account": sa.Name, "name": k.Name, "last6": k.Last6})
	})
}

// RevokeAllKeys revokes every key of the account and returns the account and how many keys it revoked.
func (s *Service) RevokeAllKeys(ctx context.Context, ws, saRef string) (ServiceAccount, int, error) {
	var (
		sa ServiceAccount
		n  int
	)
	err := s.update(ctx, "key.revoke_all", scope{ws: ws, sa: saRef}, func(tx Tx, m *mutation) error {
		var err error
		if sa, err = getAccount(ctx, tx, ws, saRef); err != nil {
			return err
		}
		if n, err = s.revokeAll(ctx, tx, m, sa.ID); err != nil {
			return err
		}
		return m.audit(tx, ws, sa.ID, map[string]string{"name": sa.Name, "keys_revoked": fmt.Sprint(n)})
	})
	return sa, n, err
}

// fromMicro is the time of a key page token's Unix microseconds.
func fromMicro(v int64) time.Time { return time.UnixMicro(v).UTC() }
