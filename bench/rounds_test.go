package bench

import (
	"context"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/streamview/streamview/internal/testenv"
	"github.com/streamview/streamview/processors"
)

// miscounting is a Sink whose second round's projection seems to store one
// document too few.
type miscounting struct {
	*redisSink
	round int
}

func (m *miscounting) Projection(ctx context.Context, d *Dataset, n int) (processors.Projection, string, error) {
	m.round = n
	return m.redisSink.Projection(ctx, d, n)
}

func (m *miscounting) Stored(ctx context.Context) (int, error) {
	n, err := m.redisSink.Stored(ctx)
	if m.round == 2 {
		n--
	}
	return n, err
}

// A round that fails still shows what the rounds measured, itself
// included, and its error; the run cleans up every round's output.
func TestRoundFails(t *testing.T) {
	if testing.Short() {
		t.Skip("needs Kafka and Redis")
	}
	client := redis.NewClient(&redis.Options{Addr: testenv.Redis(t)})
	defer client.Close()
	sink := &miscounting{redisSink: &redisSink{client: client}}
	var out strings.Builder
	cfg := Config{Servers: Servers{Brokers: testenv.Kafka(t), RedisAddr: testenv.Redis(t)}, Events: 4000, Products: 400, Rounds: 3, Out: &out}
	rep, err := Run(context.Background(), cfg, sink)
	if err == nil || !strings.Contains(err.Error(), "round 2: the projection stored 399 documents, want one per product: 400") {
		t.Fatalf("Run: %v, want round 2's miscount", err)
	}
	if len(rep.Rounds) != 2 || rep.Rounds[1].Stored != 399 || rep.Rounds[0].Stored != 400 || rep.Rounds[1].Projection.Count != 4000 {
		t.Errorf("rounds %+v, want round 1 and the failed round 2", rep.Rounds)
	}
	for _, want := range []string{"the median by ratio", "round 1: projection", "round 2: projection", "stored"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the output lacks %q:\n%s", want, out.String())
		}
	}
	if strings.Contains(out.String(), "round 3: projection") {
		t.Errorf("round 3 ran after round 2 failed:\n%s", out.String())
	}
	keys, err := client.Keys(context.Background(), "*"+strings.TrimSuffix(rep.Topic, ".events")+"*").Result()
	if err != nil || len(keys) != 0 {
		t.Errorf("keys left after the run: %v, %v", keys, err)
	}
}
