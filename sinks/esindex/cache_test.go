package esindex

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

func TestDocCacheBounds(t *testing.T) {
	type op struct {
		id   string
		size int // < 0: drop id
		// slot: "take" takes id's slot (get), "put" puts through the
		// slot last taken for id (put); "clear" clears the cache.
		slot string
	}
	for _, tc := range []struct {
		name      string
		maxDocs   int
		maxBytes  int64
		ops       []op
		want      []string // ids kept, oldest write first
		wantBytes int64
	}{
		{"within both bounds", 10, 100, []op{{"a", 10, ""}, {"b", 20, ""}, {"c", 30, ""}}, []string{"a", "b", "c"}, 60},
		{"bytes evict the oldest first", 10, 100, []op{{"a", 40, ""}, {"b", 40, ""}, {"c", 40, ""}}, []string{"b", "c"}, 80},
		{"bytes evict as many as needed", 10, 100, []op{{"a", 30, ""}, {"b", 30, ""}, {"c", 30, ""}, {"d", 90, ""}}, []string{"d"}, 90},
		{"count evicts the oldest first", 2, 1000, []op{{"a", 1, ""}, {"b", 1, ""}, {"c", 1, ""}}, []string{"b", "c"}, 2},
		{"a rewrite is the newest and counts its new size", 10, 100, []op{{"a", 40, ""}, {"b", 40, ""}, {"a", 50, ""}, {"c", 10, ""}}, []string{"b", "a", "c"}, 100},
		{"a rewrite that grows evicts others, not itself", 10, 100, []op{{"a", 40, ""}, {"b", 40, ""}, {"b", 70, ""}}, []string{"b"}, 70},
		{"a document larger than the bound is not kept", 10, 100, []op{{"a", 40, ""}, {"big", 101, ""}}, []string{"a"}, 40},
		{"nor its older version", 10, 100, []op{{"big", 60, ""}, {"a", 10, ""}, {"big", 101, ""}}, []string{"a"}, 10},
		{"exactly the bound fits", 10, 100, []op{{"a", 100, ""}}, []string{"a"}, 100},
		{"a rewrite is one document of the count", 2, 1000, []op{{"a", 1, ""}, {"b", 1, ""}, {"a", 1, ""}, {"a", 1, ""}}, []string{"b", "a"}, 2},
		{"the oldest rewritten and grown evicts the next oldest", 10, 100, []op{{"a", 40, ""}, {"b", 40, ""}, {"a", 70, ""}}, []string{"a"}, 70},
		{"the newest rewritten in place", 10, 100, []op{{"a", 10, ""}, {"b", 20, ""}, {"b", 30, ""}}, []string{"a", "b"}, 40},
		{"drop frees its bytes", 10, 100, []op{{"a", 60, ""}, {"a", -1, ""}, {"b", 60, ""}, {"c", 40, ""}}, []string{"b", "c"}, 100},
		{"a slot writes where it is", 10, 100, []op{{"a", 10, ""}, {"b", 20, ""}, {"a", 0, "take"}, {"a", 30, "put"}}, []string{"b", "a"}, 50},
		{"a slot of a document written again since", 10, 100, []op{{"a", 10, ""}, {"a", 0, "take"}, {"a", 20, ""}, {"b", 5, ""}, {"a", 30, "put"}}, []string{"b", "a"}, 35},
		{"a slot of a dropped document", 10, 100, []op{{"a", 10, ""}, {"a", 0, "take"}, {"a", -1, ""}, {"b", 20, ""}, {"a", 30, "put"}}, []string{"b", "a"}, 50},
		{"a slot of a document dropped and written again", 10, 100, []op{{"a", 10, ""}, {"a", 0, "take"}, {"a", -1, ""}, {"a", 20, ""}, {"b", 5, ""}, {"a", 30, "put"}}, []string{"b", "a"}, 35},
		{"a slot of an evicted document", 2, 100, []op{{"a", 1, ""}, {"a", 0, "take"}, {"b", 2, ""}, {"c", 3, ""}, {"a", 4, "put"}}, []string{"c", "a"}, 7},
		{"a slot from before a clear", 10, 100, []op{{"a", 10, ""}, {"b", 10, ""}, {"a", 0, "take"}, {"", 0, "clear"}, {"a", 30, "put"}}, []string{"a"}, 30},
		{"a slot of a document that grew too large", 10, 100, []op{{"a", 10, ""}, {"a", 0, "take"}, {"a", 101, ""}, {"b", 5, ""}, {"a", 30, "put"}}, []string{"b", "a"}, 35},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newDocCache(tc.maxDocs, tc.maxBytes)
			slots := map[string]cacheSlot{}
			for _, o := range tc.ops {
				switch o.slot {
				case "take":
					_, slots[o.id], _ = c.get(o.id)
					continue
				case "put":
					c.put(o.id, cachedDoc{seqNo: int64(o.size), size: o.size}, slots[o.id])
					continue
				case "clear":
					c.clear()
					continue
				}
				if o.size < 0 {
					c.drop(o.id)
					continue
				}
				c.put(o.id, cachedDoc{seqNo: int64(o.size), size: o.size}, cacheSlot{})
			}
			var got []string
			for e := c.oldest; e != nil; e = e.next {
				got = append(got, e.id)
			}
			var back []string
			for e := c.newest; e != nil; e = e.prev {
				back = append(back, e.id)
			}
			slices.Reverse(back)
			if !slices.Equal(got, back) {
				t.Fatalf("the write order is %v from the oldest, %v from the newest", got, back)
			}
			docs, bytes := c.usage()
			if !slices.Equal(got, tc.want) || bytes != tc.wantBytes || docs != len(tc.want) || len(c.m) != len(tc.want) {
				t.Fatalf("kept %v (%d docs, %d in the map), %d bytes; want %v, %d bytes", got, docs, len(c.m), bytes, tc.want, tc.wantBytes)
			}
			for _, id := range tc.want {
				if d, _, ok := c.get(id); !ok || d.size != int(d.seqNo) {
					t.Fatalf("get(%s) = %+v, %v", id, d, ok)
				}
			}
			c.clear()
			if docs, bytes := c.usage(); docs != 0 || bytes != 0 || len(c.m) != 0 {
				t.Fatalf("after clear: %d docs, %d bytes", docs, bytes)
			}
		})
	}
}

func TestDocCacheDisabled(t *testing.T) {
	for _, c := range []*docCache{newDocCache(-1, 100), newDocCache(10, -1)} {
		c.put("a", cachedDoc{size: 1}, cacheSlot{})
		if _, _, ok := c.get("a"); ok {
			t.Fatal("a disabled cache kept a document")
		}
		c.drop("a")
		c.clear()
	}
}

func TestConfigCacheBytes(t *testing.T) {
	if got := (Config{}).withDefaults().CacheBytes; got != DefaultCacheBytes || DefaultCacheBytes != 64<<20 {
		t.Fatalf("default CacheBytes = %d, want 64 MiB", got)
	}
	if err := (Config{CacheBytes: -1}).Validate(); err == nil {
		t.Fatal("a negative CacheBytes passed Validate")
	}
	if err := (Config{CacheBytes: 1 << 20}).Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
}

// BenchmarkDocCachePut is a projection's use of the cache on a skewed
// catalogue: per batch of 1,500 products (bench search's), a get of each,
// then a put of each new write, nearly all of them rewrites of products
// it holds; the put through the get's slot ("slot", as Apply does) or
// looking the product up again ("lookup").
func BenchmarkDocCachePut(b *testing.B) {
	ids := make([]string, 100_000)
	for i := range ids {
		ids[i] = fmt.Sprintf("0b7f3c52-%04x-4d2e-9a1b-%012x", i%65536, i)
	}
	z := rand.NewZipf(rand.New(rand.NewPCG(1, 2)), 1.1, 1, uint64(len(ids)-1))
	picks := make([]int, 1<<20)
	for i := range picks {
		if i < len(ids) {
			picks[i] = i // each product written once first, as created
		} else {
			picks[i] = int(z.Uint64())
		}
	}
	const batch = 1500
	for _, viaSlot := range []bool{true, false} {
		name := "lookup"
		if viaSlot {
			name = "slot"
		}
		b.Run(name, func(b *testing.B) {
			c := newDocCache(DefaultCacheDocs, DefaultCacheBytes)
			slots := make([]cacheSlot, batch)
			b.ResetTimer()
			for i := 0; i < b.N; i += batch {
				n := min(batch, b.N-i)
				for k := range n {
					var ok bool
					if _, slots[k], ok = c.get(ids[picks[(i+k)&(len(picks)-1)]]); !ok && i >= len(ids) { // a batch after the first writes of all
						b.Fatalf("product %s forgotten", ids[picks[(i+k)&(len(picks)-1)]])
					}
				}
				for k := range n {
					id, d := ids[picks[(i+k)&(len(picks)-1)]], cachedDoc{seqNo: int64(i + k), size: 444}
					slot := slots[k]
					if !viaSlot {
						slot = cacheSlot{}
					}
					c.put(id, d, slot)
				}
			}
		})
	}
}
