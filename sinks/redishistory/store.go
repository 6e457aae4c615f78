package redishistory

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/streamview/streamview/processors/producthistory"
)

// Config configures a Store; the zero value keeps generation 1 of
// product-history.
type Config struct {
	// Projection is part of every key; producthistory.Name when empty.
	// Lower-case ASCII letters, digits, '-', '_' and '.'.
	Projection string
	// Generation is part of every key; 1 when 0.
	Generation int
	// EntriesPerPipeline bounds the commands of one round trip of Put;
	// 1000 when 0.
	EntriesPerPipeline int
}

// Validate reports every problem of c at once.
func (c Config) Validate() error {
	var errs []error
	for _, r := range c.Projection {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			errs = append(errs, fmt.Errorf("redishistory: Projection %q: only a-z, 0-9, '-', '_' and '.' are allowed", c.Projection))
			break
		}
	}
	if c.Generation < 0 {
		errs = append(errs, fmt.Errorf("redishistory: Generation %d is negative", c.Generation))
	}
	if c.EntriesPerPipeline < 0 {
		errs = append(errs, fmt.Errorf("redishistory: EntriesPerPipeline %d is negative", c.EntriesPerPipeline))
	}
	return errors.Join(errs...)
}

var _ producthistory.Store = (*Store)(nil)

// Store is the index on a Redis server or cluster; safe for concurrent use.
type Store struct {
	client  redis.UniversalClient
	prefix  string
	perPipe int
}

// New returns a Store on client; the client stays the caller's to close.
func New(client redis.UniversalClient, cfg Config) (*Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Projection == "" {
		cfg.Projection = producthistory.Name
	}
	if cfg.Generation == 0 {
		cfg.Generation = 1
	}
	if cfg.EntriesPerPipeline == 0 {
		cfg.EntriesPerPipeline = 1000
	}
	return &Store{client: client, prefix: fmt.Sprintf("sv:%s:g%d:", cfg.Projection, cfg.Generation), perPipe: cfg.EntriesPerPipeline}, nil
}

func (s *Store) key(id string) string { return s.prefix + "{" + id + "}" }

// Put records entries with HSETNX, a pipeline per EntriesPerPipeline.
func (s *Store) Put(ctx context.Context, entries []producthistory.Entry) (int, error) {
	added := 0
	for start := 0; start < len(entries); start += s.perPipe {
		chunk := entries[start:min(start+s.perPipe, len(entries))]
		cmds := make([]*redis.BoolCmd, len(chunk))
		_, err := s.client.Pipelined(ctx, func(p redis.Pipeliner) error {
			for i, e := range chunk {
				cmds[i] = p.HSetNX(ctx, s.key(e.AggregateID), strconv.FormatInt(e.Version, 10),
					strconv.Itoa(int(e.Partition))+":"+strconv.FormatInt(e.Offset, 10))
			}
			return nil
		})
		if err != nil {
			return added, fmt.Errorf("redishistory: record %d entries (first %s v%d): %w", len(chunk), chunk[0].AggregateID, chunk[0].Version, err)
		}
		for _, c := range cmds {
			if c.Val() {
				added++
			}
		}
	}
	return added, nil
}

// Range reads versions from..from+n-1 of id and the count of its versions
// in one round trip.
func (s *Store) Range(ctx context.Context, id string, from int64, n int) ([]producthistory.Entry, int64, error) {
	if from < 1 {
		from = 1
	}
	key := s.key(id)
	fields := make([]string, n)
	for i := range fields {
		fields[i] = strconv.FormatInt(from+int64(i), 10)
	}
	var (
		get   *redis.SliceCmd
		total *redis.IntCmd
	)
	_, err := s.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		if n > 0 {
			get = p.HMGet(ctx, key, fields...)
		}
		total = p.HLen(ctx, key)
		return nil
	})
	if err != nil {
		return nil, 0, fmt.Errorf("redishistory: read the history of %s: %w", id, err)
	}
	var out []producthistory.Entry
	if get != nil {
		for i, v := range get.Val() {
			str, ok := v.(string)
			if !ok {
				break // the first version not recorded
			}
			e, err := parse(id, from+int64(i), str)
			if err != nil {
				return nil, 0, err
			}
			out = append(out, e)
		}
	}
	return out, total.Val(), nil
}

func parse(id string, version int64, v string) (producthistory.Entry, error) {
	ps, os, ok := strings.Cut(v, ":")
	p, perr := strconv.ParseInt(ps, 10, 32)
	o, oerr := strconv.ParseInt(os, 10, 64)
	if !ok || perr != nil || oerr != nil {
		return producthistory.Entry{}, fmt.Errorf("redishistory: %s version %d: malformed position %q (want partition:offset)", id, version, v)
	}
	return producthistory.Entry{AggregateID: id, Version: version, Partition: int32(p), Offset: o}, nil
}

// KeyPrefix is the prefix of every key of the store:
// sv:<projection>:g<N>:, followed by {<productId>}.
func (s *Store) KeyPrefix() string { return s.prefix }
