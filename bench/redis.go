package bench

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"golang.org/x/sync/errgroup"

	"github.com/streamview/streamview/internal/thousands"
	"github.com/streamview/streamview/schemas"

	"github.com/streamview/streamview/processors"
	"github.com/streamview/streamview/processors/productview"
	"github.com/streamview/streamview/sinks/redisview"
)

// RedisProjection measures the product view on Redis (processors/productview
// writing through sinks/redisview) against a bare franz-go consume and a
// bare client making the projection's very writes at its concurrency, on
// cfg.Events pre-produced events.
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
	return Run(ctx, cfg, &redisSink{client: client, script: cfg.RedisScript})
}

// redisSink measures the product view on one Redis server. Round n's
// projection writes generation n of projection <run>; the raw writes go to
// projection <run>-raw, so both are cleared by the store's own Clear.
type redisSink struct {
	client *redis.Client
	script bool             // the projection's guard: Apply's script (Config.RedisScript)
	store  *redisview.Store // the projection's, of the last round
	gen    int              // the generation it writes: the round's number
	raw    *redisview.Store // where the raw writes go
}

func (s *redisSink) Name() string { return "redis" }

// RedisTarget is the share of the smaller raw rate that the Redis
// projection should reach: the raw side does the very same writes at the
// same concurrency, so the gap is the version guard and the runtime.
const RedisTarget = 0.8

func (s *redisSink) Target() float64 { return RedisTarget }

// rawStore makes the store of the raw writes, once.
func (s *redisSink) rawStore(d *Dataset) error {
	if s.raw != nil {
		return nil
	}
	var err error
	s.raw, err = redisview.New(s.client, redisview.Config{Projection: d.Run + "-raw"})
	return err
}

// Raw writes exactly what the projection writes, without its script and
// version check: per batch the Redis writes of redisview.Writes (per
// product one HSET of the folded fields and the version, and its HINCRBYs),
// in pipelines of as many documents as the store's, sent at once, on the
// same client (the same connection pool), one lane per partition at once,
// each lane's batches in order: the projection's writes and concurrency. It
// is timed as the projection is, from the first event to the last write,
// turning events into writes included.
func (s *redisSink) Raw(ctx context.Context, d *Dataset, progress func(int)) (Figure, error) {
	if err := s.rawStore(d); err != nil {
		return Figure{}, err
	}
	lanes := d.Lanes()
	start := time.Now()
	var writes atomic.Int64
	g, gctx := errgroup.WithContext(ctx)
	for _, lane := range lanes {
		g.Go(func() error {
			for _, b := range lane {
				n, err := s.writeBatch(gctx, b, s.raw.DocsPerPipeline(), true)
				if err != nil {
					return err
				}
				writes.Add(int64(n))
				progress(len(b))
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return Figure{}, err
	}
	return Figure{Label: fmt.Sprintf("raw redis: the same %s writes, %d lanes, pipelines of %d docs at once", thousands.Format(int(writes.Load())), len(lanes), s.raw.DocsPerPipeline()),
		Unit: "events", Count: len(d.Events), Elapsed: time.Since(start)}, nil
}

// ResetRaw empties the raw side, for Raw to run again into the state it
// first met.
func (s *redisSink) ResetRaw(ctx context.Context) error {
	_, err := s.raw.Clear(ctx, 1)
	return err
}

// RawSecond writes the same as Raw on one connection: one batch and one
// pipeline at a time. It is what a bare client without concurrency does, not
// the limit the projection runs against.
func (s *redisSink) RawSecond(ctx context.Context, d *Dataset, progress func(int)) (Figure, error) {
	if err := s.rawStore(d); err != nil {
		return Figure{}, err
	}
	if _, err := s.raw.Clear(ctx, 1); err != nil {
		return Figure{}, err
	}
	start := time.Now()
	for _, lane := range d.Lanes() {
		for _, b := range lane {
			if _, err := s.writeBatch(ctx, b, len(b), false); err != nil {
				return Figure{}, err
			}
			progress(len(b))
		}
	}
	return Figure{Label: "raw redis: the same writes on one connection, a pipeline at a time", Unit: "events", Count: len(d.Events), Elapsed: time.Since(start)}, nil
}

// writeBatch writes the Redis writes of events to the raw store, in
// pipelines of per documents, at once when concurrent, and returns the
// number of writes (HSETs and HINCRBYs).
func (s *redisSink) writeBatch(ctx context.Context, events []schemas.Event, per int, concurrent bool) (int, error) {
	changes := make([]productview.Change, len(events))
	for i, e := range events {
		c, err := productview.ChangeOf(e)
		if err != nil {
			return 0, err
		}
		changes[i] = c
	}
	ws, err := redisview.Writes(changes)
	if err != nil {
		return 0, err
	}
	send := func(ctx context.Context, ws []redisview.Write) error {
		pipe := s.client.Pipeline()
		for _, w := range ws {
			key := s.raw.Key(1, w.ID)
			for _, x := range w.Incr {
				pipe.HIncrBy(ctx, key, x.Name, x.By)
			}
			args := make([]any, 0, 2*len(w.Set)+2)
			for _, f := range w.Set {
				args = append(args, f.Name, f.Value)
			}
			args = append(args, productview.VersionField, w.Version)
			pipe.HSet(ctx, key, args...)
		}
		_, err := pipe.Exec(ctx)
		return err
	}
	n := 0
	for _, w := range ws {
		n += 1 + len(w.Incr)
	}
	if !concurrent {
		return n, send(ctx, ws)
	}
	g, gctx := errgroup.WithContext(ctx)
	for chunk := range slices.Chunk(ws, per) {
		g.Go(func() error { return send(gctx, chunk) })
	}
	if err := g.Wait(); err != nil {
		return 0, fmt.Errorf("pipelined writes of %d events: %w", len(events), err)
	}
	return n, nil
}

// ServerCPU is the CPU time the Redis server has used (INFO cpu: its
// used_cpu_sys and used_cpu_user).
func (s *redisSink) ServerCPU(ctx context.Context) (time.Duration, error) {
	info, err := s.client.Info(ctx, "cpu").Result()
	if err != nil {
		return 0, err
	}
	var total float64
	for _, line := range strings.Split(info, "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), ":")
		if ok && (k == "used_cpu_sys" || k == "used_cpu_user") {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				return 0, fmt.Errorf("INFO cpu %s: %w", k, err)
			}
			total += f
		}
	}
	return time.Duration(total * float64(time.Second)), nil
}

// Projection gives round n a new store (remembering no versions) writing
// generation n, after clearing the generation of the round before.
func (s *redisSink) Projection(ctx context.Context, d *Dataset, n int) (processors.Projection, string, error) {
	if s.store != nil {
		if _, err := s.store.Clear(ctx, s.gen); err != nil {
			return nil, "", fmt.Errorf("bench: clearing round %d's generation of projection %s (the clean-up at the end tries again): %w", s.gen, d.Run, err)
		}
	}
	cfg := redisview.Config{Projection: d.Run}
	if s.script {
		cfg.VersionCache = -1
	}
	store, err := redisview.New(s.client, cfg)
	if err != nil {
		return nil, "", err
	}
	s.store, s.gen = store, n
	p, err := productview.NewWriter(s.store, n)
	if err != nil {
		return nil, "", err
	}
	guard := "versions known per partition, bare writes in MULTI/EXEC"
	if s.script {
		guard = "versions checked in the script"
	}
	return p, "projection (" + productview.Name + "; " + guard + ")", nil
}

func (s *redisSink) Stored(ctx context.Context) (int, error) {
	if s.store == nil {
		return 0, errors.New("bench: the projection did not run")
	}
	return s.store.Count(ctx, s.gen)
}

// Cleanup clears the last round's generation (Projection cleared the
// earlier ones) and the raw writes', each that was made.
func (s *redisSink) Cleanup(ctx context.Context) error {
	var errs []error
	if s.store != nil {
		_, err := s.store.Clear(ctx, s.gen)
		errs = append(errs, err)
	}
	if s.raw != nil {
		_, err := s.raw.Clear(ctx, 1)
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
