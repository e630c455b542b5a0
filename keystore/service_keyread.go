package keystore

import "context"

// FoundKey is a key with the account it belongs to, as a search across a workspace
// answers it.
type FoundKey struct {
	APIKey
	ServiceAccount string `json:"service_account"` // the account's full name, name@workspace
}

// GetKey reads one key of an account, by id or by its last six characters; never the
// secret or the hash.
func (s *Service) GetKey(ctx context.Context, ws, saRef, keyRef string) (APIKey, error) {
	var out APIKey
	err := s.view(ctx, "key.read", scope{ws: ws, sa: saRef}, func(tx Tx) error {
		sa, k, err := accountKey(ctx, tx, ws, saRef, keyRef)
		if err != nil {
			return err
		}
		out = publicKey(k, sa, s.now())
		return nil
	})
	return out, err
}

// FindKeys returns the keys of every account of ws whose last six characters are last6
// (at most MaxPageSize, oldest first), each with its account: a leaked key's tail is
// often all its finder reports.
func (s *Service) FindKeys(ctx context.Context, ws, last6 string) ([]FoundKey, error) {
	var out []FoundKey
	err := s.view(ctx, "key.find", scope{ws: ws}, func(tx Tx) error {
		if _, err := getWorkspace(ctx, tx, ws); err != nil {
			return err
		}
		if len(last6) != 6 || !isBase62String(last6) {
			return Invalid("last6", "must be the key's last six characters (letters and digits)")
		}
		keys, err := tx.FindWorkspaceKeysByLast6(ctx, ws, last6, MaxPageSize)
		if err != nil {
			return err
		}
		now := s.now()
		accounts := map[string]ServiceAccount{}
		out = make([]FoundKey, 0, len(keys))
		for _, k := range keys {
			sa, seen := accounts[k.ServiceAccountID]
			if !seen {
				var ok bool
				if sa, ok, err = tx.GetServiceAccountByID(ctx, ws, k.ServiceAccountID); err != nil {
					return err
				} else if !ok {
					continue
				}
				accounts[k.ServiceAccountID] = sa
			}
			out = append(out, FoundKey{APIKey: publicKey(k, sa, now), ServiceAccount: sa.FullName})
		}
		return nil
	})
	return out, err
}
