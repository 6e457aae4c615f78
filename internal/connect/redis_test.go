package connect

import (
	"flag"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

func TestRedisCluster(t *testing.T) {
	for _, tc := range []struct {
		name string
		r    Redis
		want string // "" is valid
	}{
		{"one server", Redis{Addr: "a:1"}, ""},
		{"cluster of seeds", Redis{Addr: "a:1, b:2,c:3", Cluster: true}, ""},
		{"cluster of one seed", Redis{Addr: "a:1", Cluster: true}, ""},
		{"several without cluster", Redis{Addr: "a:1,b:2"}, "REDIS_CLUSTER=true"},
		{"cluster without seeds", Redis{Addr: " , ", Cluster: true}, "nodes of the Redis Cluster"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.r.Validate()
			if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
				t.Fatalf("Validate = %v, want %q", err, tc.want)
			}
		})
	}

	base := &redis.Options{ReadTimeout: 7 * time.Second, ContextTimeoutEnabled: true, PoolSize: 9, DialerRetries: 1}
	c, err := Redis{Addr: "a:1, b:2", Cluster: true, Username: "u", Password: NewSecret("p")}.Client(base)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	cc, ok := c.(*redis.ClusterClient)
	if !ok {
		t.Fatalf("Client = %T, want a *redis.ClusterClient", c)
	}
	o := cc.Options()
	if strings.Join(o.Addrs, ",") != "a:1,b:2" || o.Username != "u" || o.Password != "p" ||
		o.ReadTimeout != 7*time.Second || !o.ContextTimeoutEnabled || o.PoolSize != 9 || o.DialerRetries != 1 {
		t.Fatalf("cluster options %+v", o)
	}
	one, err := Redis{Addr: "a:1"}.Client(base)
	if err != nil {
		t.Fatal(err)
	}
	defer one.Close()
	if rc, ok := one.(*redis.Client); !ok || rc.Options().Addr != "a:1" || rc.Options().ReadTimeout != 7*time.Second {
		t.Fatalf("Client = %T %+v, want a *redis.Client on a:1", one, one)
	}
	if base.Addr != "" {
		t.Fatal("Client changed base")
	}
	if err := (Redis{Addr: "a:1", Cluster: true}).Apply(&redis.Options{}); err == nil {
		t.Fatal("Apply took a cluster's settings")
	}
	if d := (Redis{Addr: "a:1,b:2", Cluster: true}).Describe(); d != "Redis Cluster a:1,b:2" {
		t.Fatalf("Describe = %q", d)
	}

	// REDIS_CLUSTER turns the flag on; --redis-cluster=false off again.
	for _, tc := range []struct {
		env  string
		args []string
		want bool
	}{{"", nil, false}, {"true", nil, true}, {"1", nil, true}, {"true", []string{"--redis-cluster=false"}, false}, {"", []string{"--redis-cluster"}, true}} {
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		f := RegisterRedis(fs, func(k string) string {
			if k == "REDIS_CLUSTER" {
				return tc.env
			}
			return ""
		})
		if err := fs.Parse(tc.args); err != nil {
			t.Fatal(err)
		}
		r, err := f.Load("a:1,b:2")
		if tc.want && (err != nil || !r.Cluster) || !tc.want && (err == nil || r.Cluster) {
			t.Errorf("REDIS_CLUSTER=%q %v: Cluster %v, err %v; want cluster %v", tc.env, tc.args, r.Cluster, err, tc.want)
		}
	}
}

func TestRedisCheckNode(t *testing.T) {
	for _, tc := range []struct {
		name string
		r    Redis
		info string
		want string // "": no error
	}{
		{"a cluster node, one server's settings", Redis{Addr: "h:7001"}, "# Cluster\r\ncluster_enabled:1\r\n",
			"redis at h:7001: it is a node of a Redis Cluster: pass --redis-cluster (REDIS_CLUSTER=true)"},
		{"a cluster node, cluster settings", Redis{Addr: "h:7001", Cluster: true}, "# Cluster\r\ncluster_enabled:1\r\n", ""},
		{"one server", Redis{Addr: "h:6379"}, "# Cluster\r\ncluster_enabled:0\r\n", ""},
		{"no cluster section", Redis{Addr: "h:6379"}, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.r.CheckNode(tc.info)
			if tc.want == "" && err != nil || tc.want != "" && (!IsConfig(err) || !strings.Contains(err.Error(), tc.want)) {
				t.Fatalf("CheckNode = %v, want %q", err, tc.want)
			}
		})
	}
}
