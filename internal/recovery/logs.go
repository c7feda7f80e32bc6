package recovery

import "github.com/sirupsen/logrus"

// pendingLogs collects log lines while the manager's mutex is held and writes
// them after it is released, so a slow log destination never holds up the
// action queue or the status loop waiting on the mutex. Lines below the
// logger's level are dropped at once and cost nothing.
type pendingLogs struct {
	log   *logrus.Entry
	lines []logLine
}

type logLine struct {
	level     logrus.Level
	component string
	msg       string
	fields    logrus.Fields
}

// on reports whether lines of this level are written at all; callers use it
// to skip building fields on hot paths.
func (p *pendingLogs) on(level logrus.Level) bool { return p.log.Logger.IsLevelEnabled(level) }

func (p *pendingLogs) add(level logrus.Level, component, msg string, fields logrus.Fields) {
	if !p.log.Logger.IsLevelEnabled(level) {
		return
	}
	p.lines = append(p.lines, logLine{level: level, component: component, msg: msg, fields: fields})
}

// flush writes the collected lines; call it without the mutex held.
func (p *pendingLogs) flush() {
	for _, l := range p.lines {
		e := p.log
		if l.component != "" {
			e = e.WithField("componentName", l.component)
		}
		if l.fields != nil {
			e = e.WithFields(l.fields)
		}
		e.Log(l.level, l.msg)
	}
	p.lines = p.lines[:0]
}
