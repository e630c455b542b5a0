package keystore

import "time"

// KeyReason says why a key cannot pass a sidecar or the admin now.
type KeyReason string

// The reasons a key cannot pass, in the order KeyBlock checks them: a final one first.
const (
	// ReasonRevoked: the key was revoked (or rotated out); final.
	ReasonRevoked KeyReason = "revoked"
	// ReasonExpired: the key's expires_at has passed; final.
	ReasonExpired KeyReason = "expired"
	// ReasonAccountDeactivated: the key's account is deactivated; reactivating the
	// account revokes its keys and issues a new one.
	ReasonAccountDeactivated KeyReason = "account_deactivated"
	// ReasonKeyDeactivated: the key itself is deactivated; activate it to use it again.
	ReasonKeyDeactivated KeyReason = "key_deactivated"
)

// KeyBlock is the one answer to "can this key pass now": "" when a key in state key,
// expiring at exp (nil: never), of an account in state account, passes at now, else
// why not. The key answers of the admin (usable, reason), the authentication of a sak_
// key and the records the sidecars read (RecordState) all ask it, so that none of them
// can say a key passes when another refuses it.
func KeyBlock(key KeyState, exp *time.Time, account AccountState, now time.Time) KeyReason {
	switch {
	case key == KeyRevoked:
		return ReasonRevoked
	case exp != nil && !now.Before(*exp):
		return ReasonExpired
	case account != AccountActive:
		return ReasonAccountDeactivated
	case key != KeyActive:
		return ReasonKeyDeactivated
	}
	return ""
}

// RecordState is the state a sidecar's record carries for a key that is neither revoked
// nor expired (those have no record): KeyActive when KeyBlock lets it pass, else
// KeyDeactivated. Expiry is left to the record's exp, which the sidecar checks itself.
func RecordState(key KeyState, account AccountState) KeyState {
	if KeyBlock(key, nil, account, time.Time{}) == "" {
		return KeyActive
	}
	return KeyDeactivated
}

// usability fills a key answer's Usable and Reason at now, for a key of an account in
// state account.
func usability(a *APIKey, account AccountState, now time.Time) {
	a.Expired = a.ExpiresAt != nil && !now.Before(*a.ExpiresAt)
	a.Reason = KeyBlock(a.State, a.ExpiresAt, account, now)
	a.Usable = a.Reason == ""
}
