package keystore

import (
	"context"
	"time"
)

// KeyUseNoter is an optional interface of a Syncer: the Service tells it of every call a
// sak_ key makes to the admin (API or console), so that the key's last_used_at counts
// them as it counts the sidecars' reports, coalesced into the same fold.
type KeyUseNoter interface {
	NoteKeyUse(keyID string, at time.Time)
}

// authorize is the package's authorize, and notes the use of a service account's key
// that it checked (even when the action is refused: the key was used).
func (s *Service) authorize(ctx context.Context, tx Tx, action string, sc scope, now time.Time) (Principal, error) {
	p, err := authorize(ctx, tx, action, sc, now)
	if p.Kind == PrincipalServiceAccount && p.KeyID != "" {
		if n, ok := s.opts.Syncer.(KeyUseNoter); ok {
			n.NoteKeyUse(p.KeyID, now)
		}
	}
	return p, err
}
