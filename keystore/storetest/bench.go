package storetest

import (
	"context"
	"fmt"
	"testing"

	"github.com/sagate/sagate/keystore"
	"github.com/sagate/sagate/keystore/wire"
)

// BenchScanAuthRecords fills st with n keys of one account and measures a full
// ScanAuthRecords. Reported: keys/s; B/op divided by n shows that memory does not
// grow with the number of keys (rows are read one at a time). Any Store runs it.
func BenchScanAuthRecords(b *testing.B, st keystore.Store, n int) {
	ctx := keystore.WithPrincipal(context.Background(), keystore.Operator("bench"))
	svc, err := keystore.NewService(st, keystore.ServiceOptions{})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := svc.CreateWorkspace(ctx, "ws", 0); err != nil {
		b.Fatal(err)
	}
	sa, _, err := svc.CreateServiceAccount(ctx, "ws", keystore.CreateServiceAccountInput{Name: "bot", AllProjectsRole: keystore.RoleViewer})
	if err != nil {
		b.Fatal(err)
	}
	_, err = st.Update(ctx, func(tx keystore.Tx) error {
		for i := range n {
			k := keystore.StoredKey{APIKey: keystore.APIKey{ID: fmt.Sprintf("key_%020d", i), ServiceAccountID: sa.ID,
				Name: "k", Last6: "000000", State: keystore.KeyActive, CreatedAt: sa.CreatedAt},
				Hash: keystore.HashKey(fmt.Sprint(i))}
			if err := tx.InsertKey(ctx, k); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		seen := 0
		if err := st.ScanAuthRecords(ctx, func(keystore.KeyHash, wire.Record) error { seen++; return nil }); err != nil {
			b.Fatal(err)
		}
		if seen != n {
			b.Fatalf("scanned %d keys, want %d", seen, n)
		}
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "keys/s")
}
