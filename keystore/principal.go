package keystore

import (
	"context"
	"fmt"
	"time"
	"unicode"
	"unicode/utf8"
)

// PrincipalKind says what kind of caller a Principal is.
type PrincipalKind string

// The kinds of principal.
const (
	// PrincipalOperator holds an operator token: every right, in every workspace.
	PrincipalOperator PrincipalKind = "operator"
	// PrincipalServiceAccount holds a live sak_ key of its account.
	PrincipalServiceAccount PrincipalKind = "service_account"
	// PrincipalPerson was named by a trusted authenticating proxy.
	PrincipalPerson PrincipalKind = "person"
)

// Principal is the authenticated caller of a Service method. The Service reads its
// rights afresh from the store in the transaction of every call; the Principal itself
// carries only who it is. Build one with Operator, Person or Service.Authenticate.
type Principal struct {
	Kind PrincipalKind `json:"kind"`
	// Name is the operator's name, the account's name or the person's name.
	Name string `json:"name"`
	// ID is the service account's id (sa_…); empty for the other kinds.
	ID string `json:"id,omitempty"`
	// Workspace is the service account's workspace; empty for the other kinds.
	Workspace string `json:"workspace,omitempty"`
	// KeyID and KeyLast6 name the key a service account authenticated with.
	KeyID    string `json:"key_id,omitempty"`
	KeyLast6 string `json:"key_last6,omitempty"`
	// Via is the address of the proxy a person's name came through.
	Via string `json:"via,omitempty"`

	hash KeyHash // the service account's key, checked again in every transaction
}

// Operator returns the principal of the operator token named name.
func Operator(name string) Principal { return Principal{Kind: PrincipalOperator, Name: name} }

// Person returns the principal of a person named by an authenticating proxy at address via.
func Person(name, via string) Principal {
	return Principal{Kind: PrincipalPerson, Name: name, Via: via}
}

// FullName returns name@workspace for a service account, else the name.
func (p Principal) FullName() string {
	if p.Kind == PrincipalServiceAccount {
		return FullName(p.Name, p.Workspace)
	}
	return p.Name
}

// Ref returns the principal as the admin API names it: "operator:NAME", "sa:ID" or
// "person:NAME". It is the audit trail's actor.
func (p Principal) Ref() string {
	switch p.Kind {
	case PrincipalServiceAccount:
		return PrincipalRefSA + p.ID
	case PrincipalPerson:
		return PrincipalRefPerson + p.Name
	}
	return PrincipalRefOperator + p.Name
}

// Prefixes of a principal reference in the admin API (workspace admins).
const (
	PrincipalRefSA     = "sa:"
	PrincipalRefPerson = "person:"
	// PrincipalRefOperator names an operator, in the audit trail only.
	PrincipalRefOperator = "operator:"
)

// MaxPersonNameLen bounds a person's name, in characters.
const MaxPersonNameLen = 128

// ValidatePersonName checks a person's name as a proxy sends it: 1 to 128 printable
// characters without spaces (e.g. "alice" or "alice@example.com").
func ValidatePersonName(s string) error {
	if s == "" || !utf8.ValidString(s) || utf8.RuneCountInString(s) > MaxPersonNameLen {
		return Invalid("person", "must be 1 to %d printable characters without spaces", MaxPersonNameLen)
	}
	for _, r := range s {
		if !unicode.IsPrint(r) || unicode.IsSpace(r) {
			return Invalid("person", "must be 1 to %d printable characters without spaces", MaxPersonNameLen)
		}
	}
	return nil
}

type principalKey struct{}

// WithPrincipal returns a context whose Service calls are made by p.
func WithPrincipal(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// PrincipalFrom returns the principal recorded by WithPrincipal.
func PrincipalFrom(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(Principal)
	return p, ok && p.Kind != ""
}

// AuditPrincipal is who made an audited change, as the audit trail records it.
type AuditPrincipal struct {
	Kind PrincipalKind `json:"kind"`
	// Name is the operator's or person's name, or the account's name@workspace.
	Name     string `json:"name"`
	ID       string `json:"id,omitempty"`
	KeyLast6 string `json:"key_last6,omitempty"`
	Via      string `json:"via,omitempty"`
}

// audit returns what the audit trail records of p.
func (p Principal) audit() *AuditPrincipal {
	return &AuditPrincipal{Kind: p.Kind, Name: p.FullName(), ID: p.ID, KeyLast6: p.KeyLast6, Via: p.Via}
}

// errNoKey is the refusal of a key that does not authenticate. It says nothing of
// which check failed, so that it tells a key's finder nothing; only a key of a
// deactivated account is told so (liveKey), since reactivation is what its holder needs.
var errNoKey = &Error{Kind: KindUnauthenticated,
	Message: "the service-account key is unknown, revoked, deactivated or expired, or its account is deactivated"}

// Authenticate returns the principal of a sak_ key: its service account, if the key is
// active and unexpired and its account active. It reads the store once, by the key's hash.
func (s *Service) Authenticate(ctx context.Context, key string) (Principal, error) {
	if CheckKey(key) != nil {
		return Principal{}, errNoKey
	}
	var p Principal
	err := s.store.View(ctx, func(tx Tx) error {
		var err error
		p, err = liveKey(ctx, tx, HashKey(key), s.now())
		return err
	})
	if err != nil {
		return Principal{}, wrap("authenticating a key", err)
	}
	return p, nil
}

// liveKey reads the key whose hash is h with its account, and answers its principal if
// both are live at now.
func liveKey(ctx context.Context, tx Tx, h KeyHash, now time.Time) (Principal, error) {
	k, sa, ok, err := tx.GetKeyByHash(ctx, h)
	if err != nil {
		return Principal{}, err
	}
	if !ok {
		return Principal{}, errNoKey
	}
	switch KeyBlock(k.State, k.ExpiresAt, sa.State, now) {
	case "":
	case ReasonAccountDeactivated:
		// Only the holder of the whole key reads this: it tells them what to ask for.
		return Principal{}, &Error{Kind: KindUnauthenticated, Message: fmt.Sprintf(
			"the service account %s of this key is deactivated; a workspace admin can reactivate it (which revokes its keys and issues a new one)",
			sa.FullName)}
	default:
		return Principal{}, errNoKey
	}
	return Principal{Kind: PrincipalServiceAccount, Name: sa.Name, ID: sa.ID, Workspace: sa.Workspace,
		KeyID: k.ID, KeyLast6: k.Last6, hash: h}, nil
}

// KeyPrincipal returns the principal of a sak_ key without reading the store: the
// Service method it calls checks the key, by its hash, in that method's transaction
// (one indexed read) and refuses it there (KindUnauthenticated) unless it is live. It
// spares a caller such as the admin API a second read. A malformed key is refused at once.
func KeyPrincipal(key string) (Principal, error) {
	if CheckKey(key) != nil {
		return Principal{}, errNoKey
	}
	return Principal{Kind: PrincipalServiceAccount, hash: HashKey(key)}, nil
}

// Unchecked reports whether p is a KeyPrincipal no Service method has checked yet.
func (p Principal) Unchecked() bool { return p.Kind == PrincipalServiceAccount && p.ID == "" }

// Check reads again the key a service account's principal holds (as its hash) and
// answers the live principal, or KindUnauthenticated: for a KeyPrincipal, and for one
// Authenticate returned earlier (a session checked on each request keeps the principal,
// never the key). Other principals are returned as they are.
func (s *Service) Check(ctx context.Context, p Principal) (Principal, error) {
	if p.Kind != PrincipalServiceAccount {
		return p, nil
	}
	err := s.store.View(ctx, func(tx Tx) error {
		var err error
		p, err = liveKey(ctx, tx, p.hash, s.now())
		return err
	})
	return p, wrap("checking a key", err)
}

// WhoAmI returns the caller, checked afresh: a service account's key must still be live.
func (s *Service) WhoAmI(ctx context.Context) (Principal, error) {
	var p Principal
	err := s.store.View(ctx, func(tx Tx) error {
		var err error
		p, err = s.authorize(ctx, tx, "whoami", scope{}, s.now())
		return err
	})
	return p, wrap("whoami", err)
}
