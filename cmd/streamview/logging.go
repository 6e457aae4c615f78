package main

import (
	"flag"
	"fmt"
	"io"
	"log/slog"
)

// logFormatFlag registers --log-format on fs, beside --log-level.
func logFormatFlag(fs *flag.FlagSet, e env) *string {
	return fs.String("log-format", e.or("STREAMVIEW_LOG_FORMAT", "text"),
		"log lines as text (key=value) or json, one object per line, for a log collector (env STREAMVIEW_LOG_FORMAT)")
}

// newLogger returns the process's logger on w: level is debug, info, warn
// or error; format text or json. Every part logs with the keys of
// internal/logkey, and the Kafka clients through kslog.
func newLogger(w io.Writer, level, format string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: want debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: l}
	switch format {
	case "text", "":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("--log-format %q: want text or json", format)
}
