package main

import (
	"io"
	"testing"
	"time"

	"github.com/streamview/streamview/producers/commandbus"
)

func TestDeliveryTimeoutConfig(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		env     string
		want    time.Duration
		wantErr bool
	}{
		{name: "default", want: commandbus.DefaultDeliveryTimeout},
		{name: "env", env: "3s", want: 3 * time.Second},
		{name: "flag wins over env", args: []string{"--delivery-timeout", "2s"}, env: "3s", want: 2 * time.Second},
		{name: "bad env", env: "soon", wantErr: true},
		{name: "zero env", env: "0s", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := env{stdout: io.Discard, stderr: io.Discard, getenv: func(k string) string {
				if k == envDeliveryTimeout {
					return tt.env
				}
				return ""
			}}
			var f serveFlags
			fs := f.register(e, "serve")
			if err := parse(fs, tt.args); err != nil {
				t.Fatal(err)
			}
			got, err := deliveryTimeout(fs, e, f.delivery)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Errorf("deliveryTimeout = %v, %v; want %v, error %v", got, err, tt.want, tt.wantErr)
			}
		})
	}
}
