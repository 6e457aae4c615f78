package redisview

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"
)

// EpochKey holds a random value naming the data a Redis holds: a Redis
// that lost its data (emptied, or restarted without persistence) no longer
// holds it, and the next Epoch sets a new one. A projector compares the
// epoch it wrote under with the one Redis holds to notice the loss.
const EpochKey = "sv:epoch"

// ClockKey is bumped by every process's EpochReader at each of its reads
// (about once a second): while Redis keeps what it is told, each bump
// returns more than any before it. A Redis back from an older snapshot
// (RDB after a crash, a failover to a replica that lagged) kept EpochKey
// but lost the writes since, and hands a process a value not above one it
// saw: the reader takes it as a loss and moves EpochKey (EpochReader).
// Its hash tag puts it in EpochKey's slot, on a Redis Cluster too (the
// home master's going back is seen, not another's). A going back of less
// than one read's interval, or while no process runs, is not seen.
const ClockKey = "{" + EpochKey + "}:clock"

// Epoch returns the epoch of the Redis behind client, setting a new one
// when it holds none. Every caller sees the same new value: the first set
// wins. It is EpochKey's value, on a Redis Cluster too.
//
// On a Redis Cluster (a *redis.ClusterClient) EpochKey lives on one master,
// so the loss of another master's data would go unnoticed. Epoch keeps
// there one sentinel key more per bucket of 128 slots, "sv:epoch:{T}",
// reads them with EpochKey in one pipeline (one round per master), and
// takes a missing sentinel as a loss: it moves EpochKey to a new value.
// The sentinels move with their slots when the cluster is resharded, so a
// reshard is no loss. An upgrade from EpochKey alone keeps its value (a
// master lost while the sentinels are first set goes unseen). A master
// that owns fewer than 128 contiguous slots may hold no sentinel, and its
// loss is then not seen. Any other client keeps EpochKey alone.
//
// A maxmemory policy that evicts keys without a TTL may evict an epoch
// key, which looks like a loss.
func Epoch(ctx context.Context, client redis.UniversalClient) (string, error) {
	if cc, ok := client.(*redis.ClusterClient); ok {
		return clusterEpoch(ctx, cc)
	}
	v, err := client.Get(ctx, EpochKey).Result()
	if err == nil {
		return v, nil
	}
	if !errors.Is(err, redis.Nil) {
		return "", fmt.Errorf("redis get %s: %w", EpochKey, err)
	}
	if err := client.SetNX(ctx, EpochKey, newEpoch(), 0).Err(); err != nil {
		return "", fmt.Errorf("redis setnx %s: %w", EpochKey, err)
	}
	if v, err = client.Get(ctx, EpochKey).Result(); err != nil {
		return "", fmt.Errorf("redis get %s: %w", EpochKey, err)
	}
	return v, nil
}

func newEpoch() string {
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// epochBucketSlots is how many slots one sentinel stands for.
const epochBucketSlots = 128

// epochSentinels are the sentinel keys of a cluster, one per bucket of
// epochBucketSlots slots, in bucket order: "sv:epoch:{T}" whose tag T puts
// it in its bucket. The bucket of EpochKey's own slot has the tag
// "sv:epoch" (epochHome), so that sentinel shares EpochKey's slot, hence
// its master: a master's loss takes both or neither, and a missing home
// sentinel beside EpochKey means the sentinels were never all set (a
// first start, or an upgrade from the single key), not a loss.
var epochSentinels = sentinelKeys()

// epochHome is the index of EpochKey's bucket in epochSentinels.
var epochHome = Slot(EpochKey) / epochBucketSlots

func sentinelKeys() []string {
	keys := make([]string, slotCount/epochBucketSlots)
	keys[epochHome] = EpochKey + ":{" + EpochKey + "}"
	for n, left := 0, len(keys)-1; left > 0; n++ {
		k := EpochKey + ":{" + strconv.Itoa(n) + "}"
		if b := Slot(k) / epochBucketSlots; keys[b] == "" {
			keys[b] = k
			left--
		}
	}
	return keys
}

// A sentinel holds the epoch it was set under, or, once its loss is seen,
// a change of the epoch not made yet: "<next>/<base>", EpochKey to be
// moved from base to next. A change whose base is no longer EpochKey's
// value is spent (made, or overtaken by another) and means nothing.
const changeSep = "/"

// changeEpoch moves EpochKey from ARGV[1] to ARGV[2], only if it still
// holds ARGV[1]: of the callers that saw one loss, one moves it.
var changeEpoch = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2])
end
return 1`)

// epochAttempts bounds the reads of one clusterEpoch: a first start, an
// upgrade or a loss takes at most three when callers do not race.
const epochAttempts = 10

// clusterEpoch is Epoch on a cluster. Nothing missing, it is one
// pipelined round of GETs. Otherwise each step writes what it can, and
// the keys are read again:
//
//   - EpochKey missing (lost with its master, or a first start): SETNX a
//     new value, a loss seen by every caller;
//   - the home sentinel missing: set every missing sentinel to the epoch,
//     the home one last, so that once it is set every other is: no loss;
//   - a sentinel holds a change based on EpochKey's value: make it;
//   - a sentinel missing: SETNX a change based on EpochKey's value read
//     after the sentinel was seen missing (so that, if the change is
//     overtaken, the loss came before what overtook it). The first SETNX
//     wins, and every caller then makes that change, or one of the changes
//     of that loss, exactly once: the base no longer matches after it.
func clusterEpoch(ctx context.Context, c *redis.ClusterClient) (string, error) {
	for range epochAttempts {
		vals, err := getAll(ctx, c, append([]string{EpochKey}, epochSentinels...))
		if err != nil {
			return "", err
		}
		epoch, sentinels := vals[0], vals[1:]
		switch {
		case epoch == "":
			if err := c.SetNX(ctx, EpochKey, newEpoch(), 0).Err(); err != nil {
				return "", fmt.Errorf("redis setnx %s: %w", EpochKey, err)
			}
			continue
		case sentinels[epochHome] == "":
			if err := setSentinels(ctx, c, epoch, sentinels); err != nil {
				return "", err
			}
			continue
		}
		if next, ok := pendingChange(epoch, sentinels); ok {
			if err := changeEpoch.Run(ctx, c, []string{EpochKey}, epoch, next).Err(); err != nil {
				return "", fmt.Errorf("redis: changing %s: %w", EpochKey, err)
			}
			continue
		}
		var missing []string
		for i, v := range sentinels {
			if v == "" {
				missing = append(missing, epochSentinels[i])
			}
		}
		if len(missing) == 0 {
			return epoch, nil
		}
		base, err := c.Get(ctx, EpochKey).Result()
		if errors.Is(err, redis.Nil) {
			continue
		}
		if err != nil {
			return "", fmt.Errorf("redis get %s: %w", EpochKey, err)
		}
		if err := setNX(ctx, c, missing, newEpoch()+changeSep+base); err != nil {
			return "", err
		}
	}
	return "", fmt.Errorf("redis: %s and its sentinels did not settle in %d reads (data lost over and over?)", EpochKey, epochAttempts)
}

// settledEpoch is epoch when a read of EpochKey (epoch) and its sentinels
// found them settled: nothing missing, no change to make. clusterEpoch
// then answers epoch without another read.
func settledEpoch(epoch string, sentinels []string) (string, bool) {
	if epoch == "" || slices.Contains(sentinels, "") {
		return "", false
	}
	if _, ok := pendingChange(epoch, sentinels); ok {
		return "", false
	}
	return epoch, true
}

// pendingChange is the next epoch of the first sentinel holding a change
// based on epoch.
func pendingChange(epoch string, sentinels []string) (string, bool) {
	for _, v := range sentinels {
		if next, base, ok := strings.Cut(v, changeSep); ok && base == epoch {
			return next, true
		}
	}
	return "", false
}

// setSentinels sets the missing sentinels to epoch, the home one after all
// the others are.
func setSentinels(ctx context.Context, c *redis.ClusterClient, epoch string, sentinels []string) error {
	var others []string
	for i, v := range sentinels {
		if v == "" && i != epochHome {
			others = append(others, epochSentinels[i])
		}
	}
	if err := setNX(ctx, c, others, epoch); err != nil {
		return err
	}
	return setNX(ctx, c, epochSentinels[epochHome:epochHome+1], epoch)
}

// getAll GETs keys in one pipeline; a missing key reads "".
func getAll(ctx context.Context, c *redis.ClusterClient, keys []string) ([]string, error) {
	pipe := c.Pipeline()
	cmds := make([]*redis.StringCmd, len(keys))
	for i, k := range keys {
		cmds[i] = pipe.Get(ctx, k)
	}
	_, _ = pipe.Exec(ctx) // each command's error is read below
	vals := make([]string, len(keys))
	for i, cmd := range cmds {
		v, err := cmd.Result()
		if err != nil && !errors.Is(err, redis.Nil) {
			return nil, fmt.Errorf("redis get %s: %w", keys[i], err)
		}
		vals[i] = v
	}
	return vals, nil
}

// setAll SETs keys to v in one pipeline.
func setAll(ctx context.Context, c *redis.ClusterClient, keys []string, v string) error {
	return setEach(ctx, c, keys, "set", func(p redis.Pipeliner, k string) redis.Cmder { return p.Set(ctx, k, v, 0) })
}

// setNX SETNXes keys to v in one pipeline.
func setNX(ctx context.Context, c *redis.ClusterClient, keys []string, v string) error {
	return setEach(ctx, c, keys, "setnx", func(p redis.Pipeliner, k string) redis.Cmder { return p.SetNX(ctx, k, v, 0) })
}

// setEach queues set(key) for each of keys in one pipeline, and reports
// the first command that failed, named verb.
func setEach(ctx context.Context, c *redis.ClusterClient, keys []string, verb string, set func(redis.Pipeliner, string) redis.Cmder) error {
	if len(keys) == 0 {
		return nil
	}
	pipe := c.Pipeline()
	cmds := make([]redis.Cmder, len(keys))
	for i, k := range keys {
		cmds[i] = set(pipe, k)
	}
	_, _ = pipe.Exec(ctx)
	for i, cmd := range cmds {
		if err := cmd.Err(); err != nil {
			return fmt.Errorf("redis %s %s: %w", verb, keys[i], err)
		}
	}
	return nil
}
