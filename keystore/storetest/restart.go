package storetest

import (
	"context"
	"testing"

	"github.com/sagate/sagate/keystore"
)

// Restart closes a store and opens it again: everything is still there, and the
// revision goes on from where it was. open must open the same database each time it
// is called (empty the first time); Restart closes what it opens.
func Restart(t *testing.T, open func() keystore.Store) {
	ctx := keystore.WithPrincipal(context.Background(), keystore.Operator("test"))
	st := open()
	svc, err := keystore.NewService(st, keystore.ServiceOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.CreateWorkspace(ctx, "ws", 3); err != nil {
		t.Fatal(err)
	}
	sa, k, err := svc.CreateServiceAccount(ctx, "ws", keystore.CreateServiceAccountInput{Name: "bot", CreateKey: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.SetGrant(ctx, "ws", "proj", "bot", keystore.RoleOwner); err != nil {
		t.Fatal(err)
	}
	_, rev, err := st.AuthRecords(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	st = open()
	defer st.Close()
	svc, err = keystore.NewService(st, keystore.ServiceOptions{})
	if err != nil {
		t.Fatal(err)
	}
	w, err := svc.GetWorkspace(ctx, "ws")
	if err != nil || w.MaxServiceAccounts != 3 {
		t.Errorf("workspace after restart = %+v, %v", w, err)
	}
	got, err := svc.GetServiceAccount(ctx, "ws", "bot")
	if err != nil || got.ID != sa.ID || !got.CreatedAt.Equal(sa.CreatedAt) {
		t.Errorf("account after restart = %+v, %v; want %+v", got, err, sa)
	}
	h := keystore.HashKey(k.Key)
	recs, rev2, err := st.AuthRecords(ctx, []keystore.KeyHash{h})
	if err != nil || rev2 != rev || len(recs) != 1 || recs[h].Roles["proj"] != keystore.RoleOwner {
		t.Errorf("records after restart = %+v at rev %d (was %d), %v", recs, rev2, rev, err)
	}
	evs, _, err := svc.ListAudit(ctx, keystore.AuditFilter{}, keystore.Page{})
	if err != nil || len(evs) != 3 {
		t.Errorf("audit after restart: %d events, %v", len(evs), err)
	}
	if _, err := svc.CreateKey(ctx, "ws", "bot", keystore.CreateKeyInput{}); err != nil {
		t.Fatal(err)
	}
	if _, rev3, _ := st.AuthRecords(ctx, nil); rev3 != rev+1 {
		t.Errorf("revision after restart = %d, want %d", rev3, rev+1)
	}
}
