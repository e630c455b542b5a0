package wire

import (
	"context"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/sagate/sagate/internal/testing/redistest"
)

// TestPublishSeqSkipsOthersEntries: the seq of a published event follows the last event
// of the same signer, skipping entries someone else appended (no seq, a seq that is not
// a number, no signature, another signer's), so that they do not show as a gap in seq;
// with none of the signer's events left within reach, it starts again at 1.
func TestPublishSeqSkipsOthersEntries(t *testing.T) {
	ctx := context.Background()
	rdb := redistest.Start(t).Client()
	mine, err := GenerateSigningKey()
	if err != nil {
		t.Fatal(err)
	}
	other, err := GenerateSigningKey()
	if err != nil {
		t.Fatal(err)
	}
	publish := func(k SigningKey) int64 {
		t.Helper()
		e := Event{Kind: EventKeys, Rev: 1, Epoch: "e"}
		SignEvent(k, &e)
		_, seq, err := PublishEvent(ctx, rdb, e, 0)
		if err != nil {
			t.Fatal(err)
		}
		return seq
	}
	xadd := func(vals ...any) {
		t.Helper()
		if err := rdb.XAdd(ctx, &redis.XAddArgs{Stream: RedisEvents, Values: vals}).Err(); err != nil {
			t.Fatal(err)
		}
	}
	if got := publish(mine); got != 1 {
		t.Fatalf("first seq %d, want 1", got)
	}
	if got := publish(mine); got != 2 {
		t.Fatalf("second seq %d, want 2", got)
	}
	xadd("kind", "junk", "sig", "x")
	xadd("seq", "many", "kind", "junk")
	xadd("seq", "1000", "kind", "keys", "sig", "x")
	xadd("seq", "1e300", "kind", "keys")
	if got := publish(mine); got != 3 {
		t.Fatalf("seq after others' entries %d, want 3", got)
	}
	if got := publish(other); got != 1 {
		t.Fatalf("another signer's first seq %d, want 1", got)
	}
	if got := publish(mine); got != 4 {
		t.Fatalf("seq after another signer's event %d, want 4", got)
	}
	for range 64 {
		xadd("kind", "junk")
	}
	if got := publish(mine); got != 1 {
		t.Fatalf("seq with 64 entries of others after the last event %d, want 1", got)
	}
}
