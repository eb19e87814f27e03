package sfu

import (
	"fmt"
	"sync"

	"github.com/pion/logging"
	"go.uber.org/zap"
)

// PionLogger routes pion's own logs into log, so that they are structured
// like Prism's and leave stderr alone. pion's errors are mostly transient
// (a write racing a close), so they arrive as warnings, its warnings as
// info, and the rest at debug level; trace output is dropped.
//
// pion asks for a logger per component per connection; the factory keeps
// one per component, so a thousand connections do not hold a thousand
// copies of the same logger.
func PionLogger(log *zap.Logger) logging.LoggerFactory {
	return &pionFactory{log: log.WithOptions(zap.AddCallerSkip(1))}
}

type pionFactory struct {
	log    *zap.Logger
	scopes sync.Map // scope → pionLogger
}

func (f *pionFactory) NewLogger(scope string) logging.LeveledLogger {
	if l, ok := f.scopes.Load(scope); ok {
		return l.(pionLogger)
	}
	l, _ := f.scopes.LoadOrStore(scope, pionLogger{f.log.With(zap.String("pion", scope)).Sugar()})
	return l.(pionLogger)
}

type pionLogger struct{ s *zap.SugaredLogger }

func (pionLogger) Trace(string)                        {}
func (pionLogger) Tracef(string, ...any)               {}
func (l pionLogger) Debug(msg string)                  { l.s.Debug(msg) }
func (l pionLogger) Debugf(format string, args ...any) { l.s.Debug(fmt.Sprintf(format, args...)) }
func (l pionLogger) Info(msg string)                   { l.s.Debug(msg) }
func (l pionLogger) Infof(format string, args ...any)  { l.s.Debug(fmt.Sprintf(format, args...)) }
func (l pionLogger) Warn(msg string)                   { l.s.Info(msg) }
func (l pionLogger) Warnf(format string, args ...any)  { l.s.Info(fmt.Sprintf(format, args...)) }
func (l pionLogger) Error(msg string)                  { l.s.Warn(msg) }
func (l pionLogger) Errorf(format string, args ...any) { l.s.Warn(fmt.Sprintf(format, args...)) }
