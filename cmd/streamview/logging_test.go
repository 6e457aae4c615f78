package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/streamview/streamview/internal/logkey"
)

func TestNewLogger(t *testing.T) {
	tests := []struct {
		name, level, format string
		wantErr             string
		check               func(t *testing.T, out string)
	}{
		{"text", "info", "text", "", func(t *testing.T, out string) {
			if !strings.Contains(out, "aggregateId=p-1") || !strings.Contains(out, "partition=3") {
				t.Errorf("text line %q", out)
			}
		}},
		{"json", "info", "json", "", func(t *testing.T, out string) {
			var m map[string]any
			if err := json.Unmarshal([]byte(out), &m); err != nil {
				t.Fatalf("json line %q: %v", out, err)
			}
			if m["msg"] != "applied" || m["level"] != "INFO" || m[logkey.AggregateID] != "p-1" || m[logkey.Partition] != float64(3) {
				t.Errorf("json line %v", m)
			}
		}},
		{"level filters", "warn", "json", "", func(t *testing.T, out string) {
			if out != "" {
				t.Errorf("info line at warn level: %q", out)
			}
		}},
		{"bad format", "info", "xml", `--log-format "xml": want text or json`, nil},
		{"bad level", "loud", "text", `--log-level "loud"`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			l, err := newLogger(&b, tt.level, tt.format)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			l.Info("applied", logkey.AggregateID, "p-1", logkey.Partition, 3)
			tt.check(t, strings.TrimSpace(b.String()))
		})
	}
}

func TestServeLogFormatFlag(t *testing.T) {
	var out bytes.Buffer
	err := run(t.Context(), []string{"serve", "--log-format", "yaml", "--roles", "api"}, nil, &out, &out)
	if err == nil || !strings.Contains(err.Error(), "--log-format") {
		t.Fatalf("serve --log-format yaml: %v", err)
	}
}
