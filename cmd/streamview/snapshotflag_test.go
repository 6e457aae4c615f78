package main

import (
	"io"
	"strings"
	"testing"
)

func TestSnapshotEveryFlag(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		env     string
		want    int
		wantErr string
	}{
		{"default", nil, "", 0, ""},
		{"flag", []string{"--snapshot-every", "500"}, "", 500, ""},
		{"off", []string{"--snapshot-every", "-1"}, "", -1, ""},
		{"environment", nil, "2000", 2000, ""},
		{"flag over environment", []string{"--snapshot-every", "7"}, "2000", 7, ""},
		{"bad environment", nil, "often", 0, envSnapshotEvery},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := env{stdout: io.Discard, stderr: io.Discard, getenv: func(k string) string {
				if k == envSnapshotEvery {
					return tt.env
				}
				return ""
			}}
			fs := newFlags(e, "serve")
			var n int
			snapshotEveryFlag(fs, &n)
			if err := fs.Parse(tt.args); err != nil {
				t.Fatal(err)
			}
			got, err := snapshotEvery(fs, e, n)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one naming %s", err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("%d, %v; want %d", got, err, tt.want)
			}
		})
	}
}
