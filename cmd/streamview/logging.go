package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/redis/go-redis/v9"
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
	var logger *slog.Logger
	switch format {
	case "text", "":
		logger = slog.New(slog.NewTextHandler(w, opts))
	case "json":
		logger = slog.New(slog.NewJSONHandler(w, opts))
	default:
		return nil, fmt.Errorf("--log-format %q: want text or json", format)
	}
	// go-redis logs a few things of its own (a pool that cannot dial, a
	// cluster's slots): through this logger, not as plain lines that break
	// a JSON log.
	redis.SetLogger(redisLogger{logger})
	return logger, nil
}

// redisLogger is go-redis's logger on slog, at warn: what it logs is about
// connections failing.
type redisLogger struct{ l *slog.Logger }

func (r redisLogger) Printf(ctx context.Context, format string, v ...any) {
	r.l.WarnContext(ctx, strings.TrimSpace(fmt.Sprintf(format, v...)), "component", "go-redis")
}
