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
	// A short command says what failed in its own error: go-redis's lines
	// (a pool that cannot dial) only at debug. The long-lived ones log
	// them at error (logRedisTo).
	redis.SetLogger(redisLogger{logger, slog.LevelDebug})
	return logger, nil
}

// logRedisTo makes go-redis log what it logs of its own (a pool that
// cannot dial, a cluster's slots) through l, at error, instead of plain
// lines on stderr that break a JSON log. go-redis has one logger per
// process: the long-lived commands call this once, with their logger.
func logRedisTo(l *slog.Logger) {
	redis.SetLogger(redisLogger{l, slog.LevelError})
}

// redisLogger is go-redis's logger on slog, at level.
type redisLogger struct {
	l     *slog.Logger
	level slog.Level
}

func (r redisLogger) Printf(ctx context.Context, format string, v ...any) {
	r.l.Log(ctx, r.level, strings.TrimSpace(fmt.Sprintf(format, v...)), "component", "go-redis")
}
