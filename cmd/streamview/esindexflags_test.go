package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/elastic/go-elasticsearch/v8"

	"github.com/streamview/streamview/internal/testenv"
	"github.com/streamview/streamview/sinks/esindex"
)

func TestESIndexFlags(t *testing.T) {
	tests := []struct {
		name             string
		args             []string
		env              map[string]string
		shards, replicas int
		wantErr          string
	}{
		{"defaults", nil, nil, 1, 0, ""},
		{"flags", []string{"--es-shards", "6", "--es-replicas", "1"}, nil, 6, 1, ""},
		{"environment", nil, map[string]string{"STREAMVIEW_ES_SHARDS": "3", "STREAMVIEW_ES_REPLICAS": "2"}, 3, 2, ""},
		{"flag over environment", []string{"--es-shards", "4"}, map[string]string{"STREAMVIEW_ES_SHARDS": "3"}, 4, 0, ""},
		{"bad environment", nil, map[string]string{"STREAMVIEW_ES_REPLICAS": "many"}, 1, -1, "STREAMVIEW_ES_REPLICAS"},
		{"no shards", []string{"--es-shards", "0"}, nil, 0, 0, "at least 1 shard"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := env{stdout: io.Discard, stderr: io.Discard, getenv: func(k string) string { return tt.env[k] }}
			fs := newFlags(e, "serve")
			var f esIndexFlags
			f.register(fs, e)
			if err := fs.Parse(tt.args); err != nil {
				t.Fatal(err)
			}
			err := f.validate()
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("validate: %v, want an error containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || f.shards != tt.shards || f.replicas != tt.replicas {
				t.Fatalf("shards %d replicas %d (%v), want %d and %d", f.shards, f.replicas, err, tt.shards, tt.replicas)
			}
		})
	}
}

// A generation's index is created with the shards and replicas of the
// flags.
func TestESIndexShardsOnRealServer(t *testing.T) {
	url := testenv.Elasticsearch(t)
	client, err := elasticsearch.NewClient(elasticsearch.Config{Addresses: []string{url}})
	if err != nil {
		t.Fatal(err)
	}
	prefix := testenv.Name("t-shards")
	f := esIndexFlags{shards: 3, replicas: 0}
	ix, err := esindex.New(client, f.apply(esindex.Config{IndexPrefix: prefix, Alias: prefix + "-read", Generation: 1}))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	t.Cleanup(func() { _ = ix.DeleteIndex(context.Background(), 1) })
	if err := ix.EnsureIndex(ctx, 1); err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(fmt.Sprintf("%s/%s-g1/_settings", url, prefix))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var settings map[string]struct {
		Settings struct {
			Index struct {
				Shards   string `json:"number_of_shards"`
				Replicas string `json:"number_of_replicas"`
			} `json:"index"`
		} `json:"settings"`
	}
	b, _ := io.ReadAll(resp.Body)
	if err := json.NewDecoder(bytes.NewReader(b)).Decode(&settings); err != nil {
		t.Fatalf("settings: %v: %s", err, b)
	}
	got := settings[prefix+"-g1"].Settings.Index
	if got.Shards != "3" || got.Replicas != "0" {
		t.Errorf("index settings %+v, want 3 shards and 0 replicas", got)
	}
}
