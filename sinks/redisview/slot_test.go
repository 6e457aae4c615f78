package redisview

import (
	"reflect"
	"strconv"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/streamview/streamview/processors/productview"
)

// The slots Redis itself computes (CLUSTER KEYSLOT on redis-server 7.0).
func TestSlot(t *testing.T) {
	for _, c := range []struct {
		key  string
		want int
	}{
		{"123456789", 12739}, // the CRC-16/XMODEM check value 0x31C3
		{"foo", 12182},
		{"{user1000}.following", 3443},
		{"{user1000}.followers", 3443},
		{"foo{}{bar}", 8363}, // an empty tag: the whole key
		{"foo{{bar}}zap", 4015},
		{"foo{bar}{zap}", 5061},
		{"sv:product-view:g1:{p-1}", Slot("p-1")},
	} {
		if got := Slot(c.key); got != c.want {
			t.Errorf("Slot(%q) = %d, want %d", c.key, got, c.want)
		}
	}
}

// sameSlot returns n document IDs whose keys share one cluster slot, and
// the slot: what makes one script call carry several documents.
func sameSlot(t *testing.T, n int, prefix string) ([]string, int) {
	t.Helper()
	want := Slot(prefix + "0")
	ids := []string{prefix + "0"}
	for i := 1; len(ids) < n; i++ {
		if i > 50_000_000 {
			t.Fatalf("no %d IDs of slot %d", n, want)
		}
		id := prefix + strconv.Itoa(i)
		if Slot(id) == want {
			ids = append(ids, id)
		}
	}
	return ids, want
}

// On a cluster client, a script call carries the documents of one slot
// only, up to DocsPerCall of them, in the order given.
func TestCallsBySlot(t *testing.T) {
	cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{"127.0.0.1:1"}}) // never dialled
	defer cc.Close()
	s, err := New(cc, Config{Projection: "p", DocsPerCall: 2})
	if err != nil {
		t.Fatal(err)
	}
	same, _ := sameSlot(t, 3, "x")
	var changes []productview.Change
	for _, id := range []string{same[0], "other", same[1], same[2]} {
		changes = append(changes, productview.Change{ID: id, Version: 1, Set: []productview.Field{{Name: "f", Value: id}}})
	}
	docs, err := group(changes)
	if err != nil {
		t.Fatal(err)
	}
	var got [][]string
	for _, c := range s.calls(1, docs) {
		got = append(got, c.keys)
		for _, k := range c.keys {
			if Slot(k) != Slot(c.keys[0]) {
				t.Errorf("call %v spans slots", c.keys)
			}
		}
	}
	k := func(id string) string { return s.Key(1, id) }
	want := [][]string{{k(same[0]), k(same[1])}, {k(same[2])}, {k("other")}}
	if Slot("other") == Slot(same[0]) {
		t.Fatal("pick another ID for \"other\"")
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("calls = %v, want %v", got, want)
	}

	// A single server packs any documents; a ring one per call.
	single := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	defer single.Close()
	s1, _ := New(single, Config{Projection: "p", DocsPerCall: 3})
	if n := len(s1.calls(1, docs)); n != 2 {
		t.Errorf("single server: %d calls, want 2", n)
	}
	ring := redis.NewRing(&redis.RingOptions{Addrs: map[string]string{"a": "127.0.0.1:1"}})
	defer ring.Close()
	s2, _ := New(ring, Config{Projection: "p", DocsPerCall: 3})
	if n := len(s2.calls(1, docs)); n != 4 {
		t.Errorf("ring: %d calls, want 4", n)
	}
}
