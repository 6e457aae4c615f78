package redisview

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/redis/go-redis/v9"
)

// EpochKey holds a random value naming the data a Redis holds: a Redis
// that lost its data (emptied, or restarted without persistence) no longer
// holds it, and the next Epoch sets a new one. A projector compares the
// epoch it wrote under with the one Redis holds to notice the loss.
const EpochKey = "sv:epoch"

// Epoch returns the epoch of the Redis behind client, setting a new one
// when it holds none. Every caller sees the same new value: the first set
// wins.
func Epoch(ctx context.Context, client redis.UniversalClient) (string, error) {
	v, err := client.Get(ctx, EpochKey).Result()
	if err == nil {
		return v, nil
	}
	if !errors.Is(err, redis.Nil) {
		return "", fmt.Errorf("redis get %s: %w", EpochKey, err)
	}
	var b [16]byte
	rand.Read(b[:])
	if err := client.SetNX(ctx, EpochKey, hex.EncodeToString(b[:]), 0).Err(); err != nil {
		return "", fmt.Errorf("redis setnx %s: %w", EpochKey, err)
	}
	if v, err = client.Get(ctx, EpochKey).Result(); err != nil {
		return "", fmt.Errorf("redis get %s: %w", EpochKey, err)
	}
	return v, nil
}
