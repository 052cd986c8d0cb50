// Package logging builds crmsync's zap loggers (JSON for production, readable console
// output for development) and adapts them to the Temporal SDK, so the SDK's own logs
// share one format and one field vocabulary with ours.
package logging

import (
	"fmt"
	"strings"

	"go.temporal.io/sdk/log"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// New builds a logger. format is "json" or "console"; level is debug, info, warn or error.
func New(format, level string) (*zap.Logger, error) {
	var cfg zap.Config
	switch strings.ToLower(format) {
	case "", "console":
		cfg = zap.NewDevelopmentConfig()
		cfg.EncoderConfig.EncodeLevel = zapcore.CapitalColorLevelEncoder
		cfg.DisableStacktrace = true
	case "json":
		cfg = zap.NewProductionConfig()
		cfg.EncoderConfig.TimeKey = "ts"
		cfg.EncoderConfig.EncodeTime = zapcore.ISO8601TimeEncoder
	default:
		return nil, fmt.Errorf("CRMSYNC_LOG_FORMAT: want json or console, got %q", format)
	}
	if level != "" {
		lv, err := zapcore.ParseLevel(level)
		if err != nil {
			return nil, fmt.Errorf("CRMSYNC_LOG_LEVEL: %w", err)
		}
		cfg.Level = zap.NewAtomicLevelAt(lv)
	} else {
		cfg.Level = zap.NewAtomicLevelAt(zapcore.InfoLevel)
	}
	l, err := cfg.Build()
	if err != nil {
		return nil, fmt.Errorf("building logger: %w", err)
	}
	return l, nil
}

// Temporal adapts a zap logger to the SDK's key-value logger interface.
func Temporal(z *zap.Logger) log.Logger {
	return &temporalLogger{z: z.WithOptions(zap.AddCallerSkip(1)).Sugar()}
}

type temporalLogger struct {
	z *zap.SugaredLogger
}

func (l *temporalLogger) Debug(msg string, keyvals ...any) { l.z.Debugw(msg, fields(keyvals)...) }
func (l *temporalLogger) Info(msg string, keyvals ...any)  { l.z.Infow(msg, fields(keyvals)...) }
func (l *temporalLogger) Warn(msg string, keyvals ...any)  { l.z.Warnw(msg, fields(keyvals)...) }
func (l *temporalLogger) Error(msg string, keyvals ...any) { l.z.Errorw(msg, fields(keyvals)...) }

// With returns a logger with extra fields, so the SDK's per-workflow fields stay structured.
func (l *temporalLogger) With(keyvals ...any) log.Logger {
	return &temporalLogger{z: l.z.With(fields(keyvals)...)}
}

// sdkKeys renames the SDK's log keys to crmsync's, so that one query (workflow_id=...)
// finds a workflow's lines whichever side wrote them.
var sdkKeys = map[string]string{
	"WorkflowID":   "workflow_id",
	"RunID":        "run_id",
	"Attempt":      "attempt",
	"Namespace":    "namespace",
	"TaskQueue":    "task_queue",
	"WorkerID":     "worker_id",
	"WorkflowType": "workflow_type",
	"ActivityType": "activity_type",
	"ActivityID":   "activity_id",
}

// fields renames the keys of SDK key-value pairs (leaving the values, and the slice the
// SDK passed, untouched).
func fields(keyvals []any) []any {
	out := make([]any, len(keyvals))
	copy(out, keyvals)
	for i := 0; i+1 < len(out); i += 2 {
		if k, ok := out[i].(string); ok {
			if ours, ok := sdkKeys[k]; ok {
				out[i] = ours
			}
		}
	}
	return out
}
