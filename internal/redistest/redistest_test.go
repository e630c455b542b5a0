package redistest

import (
	"context"
	"testing"
)

func TestStartRestart(t *testing.T) {
	s := Start(t)
	c := s.Client()
	ctx := context.Background()
	if err := c.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	s.Restart()
	if n, err := c.Exists(ctx, "k").Result(); err != nil || n != 0 {
		t.Fatalf("after restart: exists=%d err=%v, want an empty server", n, err)
	}
	s.Kill()
	if err := c.Ping(ctx).Err(); err == nil {
		t.Fatal("ping succeeded after Kill")
	}
}

func TestSaveAndRestartKeepingData(t *testing.T) {
	s := Start(t)
	c := s.Client()
	ctx := context.Background()
	if err := c.Set(ctx, "saved", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	s.Save()
	if err := c.Set(ctx, "after", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	s.KillAndRestartKeepingData()
	if v, err := c.Get(ctx, "saved").Result(); err != nil || v != "v" {
		t.Errorf("after the restart from the snapshot: saved = %q, %v", v, err)
	}
	if n := c.Exists(ctx, "after").Val(); n != 0 {
		t.Error("a key written after the snapshot survived the kill")
	}
	s.Restart()
	if n := c.Exists(ctx, "saved").Val(); n != 0 {
		t.Error("Restart kept the snapshot's data")
	}
}
