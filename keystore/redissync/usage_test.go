package redissync

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/sagate/sagate/keystore/wire"
)

func TestFoldUsage(t *testing.T) {
	ms := func(n int64) string { return strconv.FormatInt(n, 10) }
	tests := []struct {
		name     string
		hash     map[string]string
		storeErr bool
		// written by a sidecar while the store is being written
		during map[string]string
		// noted by the admin itself (NoteKeyUse) before the fold
		admin    map[string]int64
		wantUses map[string]int64
		wantLeft map[string]string // the hash afterwards
	}{
		{
			name:     "times move into the store",
			hash:     map[string]string{"key_1": ms(1000), "key_2": ms(2000)},
			wantUses: map[string]int64{"key_1": 1000, "key_2": 2000},
			wantLeft: map[string]string{},
		},
		{
			name:     "malformed entries are dropped",
			hash:     map[string]string{"key_1": ms(1000), "key_2": "yesterday", "key_3": "-5"},
			wantUses: map[string]int64{"key_1": 1000},
			wantLeft: map[string]string{},
		},
		{
			name:     "a report during the fold is kept for the next one",
			hash:     map[string]string{"key_1": ms(1000)},
			during:   map[string]string{"key_1": ms(3000)},
			wantUses: map[string]int64{"key_1": 1000},
			wantLeft: map[string]string{"key_1": ms(3000)},
		},
		{
			name:     "a store error puts times back keeping the later",
			hash:     map[string]string{"key_1": ms(1000), "key_2": ms(2000)},
			storeErr: true,
			during:   map[string]string{"key_1": ms(3000), "key_2": ms(500)},
			wantUses: map[string]int64{},
			wantLeft: map[string]string{"key_1": ms(3000), "key_2": ms(2000)},
		},
		{
			name:     "the admin's own uses fold with the sidecars', the later kept",
			hash:     map[string]string{"key_1": ms(1000), "key_2": ms(2000)},
			admin:    map[string]int64{"key_1": 1500, "key_2": 1200, "key_3": 900},
			wantUses: map[string]int64{"key_1": 1500, "key_2": 2000, "key_3": 900},
			wantLeft: map[string]string{},
		},
		{
			name:     "the admin's own uses alone",
			admin:    map[string]int64{"key_3": 900},
			wantUses: map[string]int64{"key_3": 900},
			wantLeft: map[string]string{},
		},
		{
			name:     "nothing to fold",
			wantUses: map[string]int64{},
			wantLeft: map[string]string{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, Config{})
			ctx := context.Background()
			if len(tt.hash) > 0 {
				if err := e.rdb.HSet(ctx, wire.RedisLastUsed, tt.hash).Err(); err != nil {
					t.Fatal(err)
				}
			}
			for id, at := range tt.admin {
				e.s.NoteKeyUse(id, time.UnixMilli(at))
			}
			e.src.useHook = func() error {
				if len(tt.during) > 0 {
					if err := e.rdb.HSet(ctx, wire.RedisLastUsed, tt.during).Err(); err != nil {
						return err
					}
				}
				if tt.storeErr {
					return errStoreDown
				}
				return nil
			}
			err := e.s.foldUsage(ctx)
			if tt.storeErr != errors.Is(err, errStoreDown) {
				t.Fatalf("foldUsage: %v, want store error %v", err, tt.storeErr)
			}
			if !tt.storeErr && err != nil {
				t.Fatal(err)
			}
			uses := e.src.usesCopy()
			if len(uses) != len(tt.wantUses) {
				t.Errorf("store has %v, want %v", uses, tt.wantUses)
			}
			for id, want := range tt.wantUses {
				if !uses[id].Equal(time.UnixMilli(want)) {
					t.Errorf("%s: store has %v, want %d", id, uses[id], want)
				}
			}
			left, err := e.rdb.HGetAll(ctx, wire.RedisLastUsed).Result()
			if err != nil {
				t.Fatal(err)
			}
			if len(left) != len(tt.wantLeft) {
				t.Errorf("hash holds %v, want %v", left, tt.wantLeft)
			}
			for k, v := range tt.wantLeft {
				if left[k] != v {
					t.Errorf("hash %s = %q, want %q", k, left[k], v)
				}
			}
		})
	}
}
