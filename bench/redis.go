package bench

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/streamview/streamview/processors"
	"github.com/streamview/streamview/processors/productview"
	"github.com/streamview/streamview/sinks/redisview"
)

// RedisProjection measures the product view on Redis (processors/productview
// writing through sinks/redisview) against a bare franz-go consume and bare
// pipelined HSETs, on cfg.Events pre-produced events.
func RedisProjection(ctx context.Context, cfg Config) (Report, error) {
	if err := cfg.Validate(); err != nil {
		return Report{}, err
	}
	opts := &redis.Options{Addr: cfg.withDefaults().RedisAddr}
	if cfg.Redis != nil {
		opts = cfg.Redis
	}
	addr := opts.Addr
	client := redis.NewClient(opts)
	defer client.Close()
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	err := client.Ping(pctx).Err()
	cancel()
	if err != nil {
		return Report{}, fmt.Errorf("bench: redis at %s does not answer: %w", addr, err)
	}
	return Run(ctx, cfg, &redisSink{client: client})
}

// redisSink measures the product view on one Redis server. The projection
// writes generation 1 of projection <run>; the raw writes go to projection
// <run>-raw, so both are cleared by the store's own Clear.
type redisSink struct {
	client *redis.Client
	store  *redisview.Store // the projection's
	raw    *redisview.Store // where the raw writes go
}

func (s *redisSink) Name() string { return "redis" }

func (s *redisSink) Target() float64 { return Target }

func (s *redisSink) stores(d *Dataset) error {
	if s.store != nil {
		return nil
	}
	var err error
	if s.store, err = redisview.New(s.client, redisview.Config{Projection: d.Run}); err != nil {
		return err
	}
	s.raw, err = redisview.New(s.client, redisview.Config{Projection: d.Run + "-raw"})
	return err
}

// Raw writes one pipelined HSET per event, d.Batch per round trip, each with
// the fields the event's Change sets (an increment's delta as a value) and
// the version: the writes of the projection without its script, version
// check or runtime. Building the arguments is not timed; the pipeline is.
func (s *redisSink) Raw(ctx context.Context, d *Dataset, progress func(int)) (Figure, error) {
	if err := s.stores(d); err != nil {
		return Figure{}, err
	}
	keys := make([]string, 0, d.Batch)
	args := make([][]any, 0, d.Batch)
	var elapsed time.Duration
	for i := 0; i < len(d.Events); i += d.Batch {
		keys, args = keys[:0], args[:0]
		for _, e := range d.Events[i:min(i+d.Batch, len(d.Events))] {
			c, err := productview.ChangeOf(e)
			if err != nil {
				return Figure{}, err
			}
			a := make([]any, 0, 2*(len(c.Set)+len(c.Incr)+1))
			for _, f := range c.Set {
				a = append(a, f.Name, f.Value)
			}
			for _, f := range c.Incr {
				a = append(a, f.Name, strconv.FormatInt(f.By, 10))
			}
			a = append(a, productview.VersionField, strconv.FormatInt(c.Version, 10))
			keys = append(keys, s.raw.Key(1, c.ID))
			args = append(args, a)
		}
		start := time.Now()
		pipe := s.client.Pipeline()
		for j, k := range keys {
			pipe.HSet(ctx, k, args[j]...)
		}
		_, err := pipe.Exec(ctx)
		elapsed += time.Since(start)
		if err != nil {
			return Figure{}, fmt.Errorf("pipelined HSET of events %d..%d: %w", i, i+len(keys)-1, err)
		}
		progress(len(keys))
	}
	return Figure{Label: "raw redis (pipelined HSET)", Unit: "writes", Count: len(d.Events), Elapsed: elapsed}, nil
}

func (s *redisSink) Projection(ctx context.Context, d *Dataset) (processors.Projection, string, error) {
	if err := s.stores(d); err != nil {
		return nil, "", err
	}
	p, err := productview.NewWriter(s.store, 1)
	if err != nil {
		return nil, "", err
	}
	return p, "projection (" + productview.Name + ")", nil
}

func (s *redisSink) Stored(ctx context.Context) (int, error) {
	if s.store == nil {
		return 0, errors.New("bench: the projection did not run")
	}
	return s.store.Count(ctx, 1)
}

func (s *redisSink) Cleanup(ctx context.Context) error {
	if s.store == nil {
		return nil
	}
	_, err1 := s.store.Clear(ctx, 1)
	_, err2 := s.raw.Clear(ctx, 1)
	return errors.Join(err1, err2)
}
