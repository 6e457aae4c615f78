package redisview

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/streamview/streamview/internal/eventgen"
	"github.com/streamview/streamview/processors/productview"
)

// BenchmarkScriptCost measures what Redis spends (its used_cpu_user +
// used_cpu_sys, so a server other clients share counts their work too)
// per event on batches of 2000 zipf events, for Apply's script calls and
// for scripts that do less with the same keys and arguments, beside the
// bare writes of the same changes (Writes: HINCRBYs and one HSET per
// document). It says where the script's cost over the bare writes goes:
//
//	evalsha-empty  the calls alone ("return 0": the arguments into Lua)
//	hset           plus one HSET of the sets per document (no guard)
//	hmget-hset     plus the HMGET of the version and counters: the least
//	               a guarded write from Lua costs
//	apply          apply.lua
//	watch          the guard without a script: WATCH the documents,
//	               HMGET their versions and counters, then MULTI, one
//	               HSET each that is newer, EXEC (what a client would do
//	               in its place; per 500 documents)
//	fenced         no guard per document: the bare writes in one
//	               MULTI/EXEC per batch with the batch's offset, under a
//	               WATCH of that offset's key (GET, then the transaction):
//	               what a projection would cost Redis if it kept its
//	               partition's applied offset beside the views and skipped
//	               redelivered offsets itself, instead of a version guard
//	               per document (one Redis only: a cluster refuses a
//	               transaction across slots)
//	applyin        ApplyIn of partition 0: versions known per partition
//	               (read once), the bare writes in one MULTI/EXEC under
//	               the partition's fence (what the view projector does on
//	               one server)
//	bare           the bare writes, pipelined, no script
//
// One op is one batch, on the Redis at REDIS_ADDR (skipped without):
//
//	REDIS_ADDR=127.0.0.1:6379 go test -run '^$' -bench ScriptCost -benchtime 100x ./sinks/redisview
func BenchmarkScriptCost(b *testing.B) {
	c := benchRedis(b)
	ctx := context.Background()
	s, err := New(c, Config{Projection: "bench-scriptcost"})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Clear(ctx, 1)
	batches := changeBatches(eventgen.Options{Products: 20000, Events: 200_000, Seed: 3, Distribution: eventgen.Zipf})
	// The scripts below read the arguments as apply.lua does, and skip
	// documents of several unfolded changes (none in this data set).
	const walk = `
local i = 1
for k = 1, #KEYS do
  local n = tonumber(ARGV[i]); i = i + 1
  if n < 0 then i = i + 1 end
  local version = ARGV[i]
  local nset, nincr = tonumber(ARGV[i + 1]), tonumber(ARGV[i + 2])
  local s = i + 3
  local names = s + 2 * nset
  i = names + 2 * nincr
  %s
end
return 0`
	scripts := map[string]*redis.Script{
		"evalsha-empty": redis.NewScript("return 0"),
		"hset":          redis.NewScript(strings.Replace(walk, "%s", `redis.call('HSET', KEYS[k], '_v', version, unpack(ARGV, s, names - 1))`, 1)),
		"hmget-hset": redis.NewScript(strings.Replace(walk, "%s", `redis.call('HMGET', KEYS[k], '_v', unpack(ARGV, names, names + nincr - 1))
  redis.call('HSET', KEYS[k], '_v', version, unpack(ARGV, s, names - 1))`, 1)),
		"apply": applyScript,
	}
	for _, name := range []string{"evalsha-empty", "hset", "hmget-hset", "apply", "watch", "fenced", "applyin", "bare"} {
		b.Run(name, func(b *testing.B) {
			sc := scripts[name]
			if sc != nil {
				if err := sc.Load(ctx, c).Err(); err != nil {
					b.Fatal(err)
				}
			}
			n := 0
			cpu := 0.0
			for i := 0; b.Loop(); i++ {
				if i%len(batches) == 0 {
					if _, err := s.Clear(ctx, 1); err != nil {
						b.Fatal(err)
					}
				}
				cs := batches[i%len(batches)]
				b.StopTimer()
				// Grouped and packed outside the measure: this is about
				// Redis.
				docs, err := group(cs)
				if err != nil {
					b.Fatal(err)
				}
				for _, d := range docs {
					if d.n > 1 && d.fold == nil {
						b.Fatalf("document %s: %d changes not folded, which the scripts here do not read", d.id, d.n)
					}
				}
				calls := s.calls(1, docs)
				writes, _ := Writes(cs)
				before := redisCPU(ctx, b, c)
				b.StartTimer()
				switch name {
				case "watch":
					watchWrites(ctx, b, c, s.Prefix(1), writes)
				case "fenced":
					fencedWrites(ctx, b, c, s.Prefix(1), writes, i)
				case "applyin":
					if _, err := s.ApplyIn(ctx, 1, 0, cs); err != nil {
						b.Fatal(err)
					}
				default:
					pipe := c.Pipeline()
					if sc != nil {
						for _, cl := range calls {
							sc.EvalSha(ctx, pipe, cl.keys, cl.args...)
						}
					} else {
						bareWrites(ctx, pipe, s.Prefix(1), writes)
					}
					if _, err := pipe.Exec(ctx); err != nil {
						b.Fatal(err)
					}
				}
				b.StopTimer()
				cpu += redisCPU(ctx, b, c) - before
				b.StartTimer()
				n += len(cs)
			}
			b.ReportMetric(cpu*1e6/float64(n), "redis-µs/event")
		})
	}
}

// redisCPU is the CPU seconds the server has used (user and system).
func redisCPU(ctx context.Context, b *testing.B, c *redis.Client) float64 {
	info, err := c.Info(ctx, "cpu").Result()
	if err != nil {
		b.Fatal(err)
	}
	total := 0.0
	for _, l := range strings.Split(info, "\r\n") {
		name, v, ok := strings.Cut(l, ":")
		if ok && (name == "used_cpu_user" || name == "used_cpu_sys") {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				b.Fatalf("INFO cpu %s: %v", l, err)
			}
			total += f
		}
	}
	return total
}

// watchWrites makes writes as the guarded writes of a client that keeps
// no script: per 500 documents, WATCH, the HMGETs of the versions and
// counters, then in MULTI/EXEC an HSET of the counters' new values, the
// sets and the version for each document older than its write.
// bareWrites queues writes on p as plain commands: the HINCRBYs and one
// HSET of the sets and the version per document.
func bareWrites(ctx context.Context, p redis.Pipeliner, prefix string, writes []Write) {
	for _, w := range writes {
		key := docKey(prefix, w.ID)
		for _, x := range w.Incr {
			p.HIncrBy(ctx, key, x.Name, x.By)
		}
		args := []any{productview.VersionField, w.Version}
		for _, f := range w.Set {
			args = append(args, f.Name, f.Value)
		}
		p.HSet(ctx, key, args...)
	}
}

// fencedWrites makes writes as one transaction of bare writes with the
// batch's offset, under a WATCH of the offset's key (see "fenced" above).
func fencedWrites(ctx context.Context, b *testing.B, c *redis.Client, prefix string, writes []Write, offset int) {
	fence := prefix + "offset:0"
	err := c.Watch(ctx, func(tx *redis.Tx) error {
		if err := tx.Get(ctx, fence).Err(); err != nil && err != redis.Nil {
			return err
		}
		_, err := tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
			bareWrites(ctx, p, prefix, writes)
			p.Set(ctx, fence, offset, 0)
			return nil
		})
		return err
	}, fence)
	if err != nil {
		b.Fatal(err)
	}
}

func watchWrites(ctx context.Context, b *testing.B, c *redis.Client, prefix string, writes []Write) {
	for chunk := range slices.Chunk(writes, 500) {
		keys := make([]string, len(chunk))
		for i, w := range chunk {
			keys[i] = docKey(prefix, w.ID)
		}
		err := c.Watch(ctx, func(tx *redis.Tx) error {
			reads := make([]*redis.SliceCmd, len(chunk))
			if _, err := tx.Pipelined(ctx, func(p redis.Pipeliner) error {
				for i, w := range chunk {
					fields := []string{productview.VersionField}
					for _, x := range w.Incr {
						fields = append(fields, x.Name)
					}
					reads[i] = p.HMGet(ctx, keys[i], fields...)
				}
				return nil
			}); err != nil {
				return err
			}
			_, err := tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
				for i, w := range chunk {
					vals := reads[i].Val()
					cur := int64(0)
					if v, ok := vals[0].(string); ok {
						cur, _ = strconv.ParseInt(v, 10, 64)
					}
					if w.Version <= cur {
						continue
					}
					args := make([]any, 0, 2+2*len(w.Set)+2*len(w.Incr))
					for j, x := range w.Incr {
						n := int64(0)
						if v, ok := vals[j+1].(string); ok {
							n, _ = strconv.ParseInt(v, 10, 64)
						}
						args = append(args, x.Name, n+x.By)
					}
					for _, f := range w.Set {
						args = append(args, f.Name, f.Value)
					}
					args = append(args, productview.VersionField, w.Version)
					p.HSet(ctx, keys[i], args...)
				}
				return nil
			})
			return err
		}, keys...)
		if err != nil {
			b.Fatal(err)
		}
	}
}
