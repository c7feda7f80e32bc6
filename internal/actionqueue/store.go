package actionqueue

import (
	"bytes"
	"context"
	"encoding/json"
	"sort"
	"sync"
	"time"

	"github.com/sirupsen/logrus"

	"github.com/ambari-go/ambari-agent/internal/orchestrator"
	"github.com/ambari-go/ambari-agent/internal/procinfo"
	"github.com/ambari-go/ambari-agent/internal/protocol"
)

// Texts and values of the report written for a command that was running
// when the agent stopped.
const (
	RestartedMessage = "The agent restarted while the command was running; its outcome is unknown."
	// ReapedMessage is the report of a command that was still running
	// when the agent started again, and was stopped then.
	ReapedMessage = "The agent restarted while the command was running; the command was still running and was stopped."
	// NotRunMessage is the report of a command that was still queued.
	NotRunMessage     = "The agent restarted before the command ran; it was not run."
	restartedExitCode = 1
)

const (
	// sendTimeout bounds one report request; the link has its own, shorter
	// deadline.
	sendTimeout = 15 * time.Second
	// downProbeInterval is how often reports are tried while the link
	// looked down and no registration was announced.
	downProbeInterval = 30 * time.Second
	// retryInterval paces resending unacknowledged reports when the
	// periodic cycle is off.
	retryInterval = 5 * time.Second
	// stopFlushTimeout bounds the last send when the agent stops.
	stopFlushTimeout = 3 * time.Second
	// A report that could not be journaled (disk full, say) is kept in
	// memory, as every report is until acknowledged, and its journal
	// write is tried again every journalRetryInterval, for up to
	// journalRetryFor: once the disk has room again, a crash no longer
	// loses it. After that the agent gives up on the file with an error
	// in the log; the report still reaches the server if the agent lives
	// until then. What is kept is bounded by MaxStoredReports.
	journalRetryInterval = 10 * time.Second
	journalRetryFor      = time.Hour
)

type storeConfig struct {
	prefix        string
	maxEntries    int
	logMaxSymbols int
	interval      time.Duration
	sender        Sender
	log           *logrus.Entry
	// maxSize is MaxReportSize; smaller in tests.
	maxSize int
	// reap stops a command an earlier agent process left running; nil:
	// none is stopped.
	reap func(procinfo.Identity) bool
	// onWriteError hears of every failed journal write; may be nil.
	onWriteError func(error)
	// journalRetry and journalGiveUp are journalRetryInterval and
	// journalRetryFor; smaller in tests.
	journalRetry, journalGiveUp time.Duration
	// liveness: Config.JournalLiveness.
	liveness Liveness
}

// entry is one task's latest report (CommandStatusDict's (command,
// report) pair).
type entry struct {
	taskID int64
	typ    string
	// clusterKey is the clusterId as a JSON string, the message map key.
	clusterKey []byte
	// tmpl carries the template fields for periodic reports.
	tmpl                            protocol.CommandReport
	outFile, errFile, structuredOut string
	// custom is commandParams.custom_command, journaled with the report.
	custom string
	// seq is the store-wide sequence number of the latest state; acked is
	// the seq the server last acknowledged (0: none).
	seq, acked uint64
	final      bool
	// body is the stored report's JSON.
	body []byte
}

// periodicType reports whether the periodic cycle reports a command type
// (EXECUTION_COMMAND_GROUP in Python).
func periodicType(t string) bool {
	return t == protocol.ExecutionCommand || t == protocol.BackgroundExecutionCommand
}

// statusStore is the command-status store and its reporter: it keeps each
// task's latest report until the server acknowledged the final one, and
// sends reports immediately on every change and periodically while
// commands run (docs/behaviour.md §5.6).
type statusStore struct {
	cfg     storeConfig
	log     *logrus.Entry
	journal *journal // nil: memory only

	// persistMu orders changes of journal files with the entries they
	// belong to: a file is only removed for the state it holds. Taken
	// before mu.
	persistMu sync.Mutex

	mu      sync.Mutex
	entries map[int64]*entry
	seq     uint64
	// dirty counts entries whose latest state is not acknowledged;
	// periodic counts entries the periodic cycle reports. Both let an idle
	// cycle return without allocating.
	dirty, periodic int

	// kick asks for an immediate send (a report changed); reg announces a
	// registration. One token each, so senders never block.
	kick, reg chan struct{}

	// Guarded by persistMu. procs holds the running script of each
	// IN_PROGRESS task, journaled with it. unsaved holds the latest
	// record of each task whose journal write failed, for retries;
	// retryTimer is armed while it is not empty, stopped is set once the
	// store stops.
	procs      map[int64]procinfo.Identity
	unsaved    map[int64]*unsavedRecord
	retryTimer *time.Timer
	stopped    bool

	// Owned by the reporter goroutine.
	down    bool // the last send failed: wait for a registration
	scratch []item
}

func newStatusStore(cfg storeConfig) (*statusStore, error) {
	if cfg.maxSize <= 0 {
		cfg.maxSize = MaxReportSize
	}
	if cfg.journalRetry <= 0 {
		cfg.journalRetry = journalRetryInterval
	}
	if cfg.journalGiveUp <= 0 {
		cfg.journalGiveUp = journalRetryFor
	}
	s := &statusStore{
		cfg:     cfg,
		log:     cfg.log,
		entries: make(map[int64]*entry),
		kick:    make(chan struct{}, 1),
		reg:     make(chan struct{}, 1),
		procs:   make(map[int64]procinfo.Identity),
		unsaved: make(map[int64]*unsavedRecord),
	}
	if cfg.prefix != "" {
		j, err := openJournal(cfg.prefix)
		if err != nil {
			// Reports still flow; they are only not crash-safe.
			s.log.WithError(err).Error("Command reports will not survive an agent restart")
		} else {
			s.journal = j
			s.recover()
		}
	}
	return s, nil
}

// put stores a task's new report, journals it, and asks for an immediate
// send (CommandStatusDict.put_command_status). The journal is written
// before the report can be sent.
func (s *statusStore) put(c *command, files orchestrator.TaskFiles, r protocol.CommandReport) {
	body, err := marshal(r)
	if err != nil {
		s.log.WithError(err).WithField("taskId", c.TaskID).Error("Cannot encode command report")
		return
	}
	key, _ := marshal(c.ClusterID)
	e := &entry{
		taskID:        c.TaskID,
		typ:           c.CommandType,
		clusterKey:    key,
		tmpl:          template(c),
		outFile:       files.Out,
		errFile:       files.Err,
		structuredOut: files.StructuredOut,
		final:         r.Status != protocol.StatusInProgress,
		body:          body,
	}
	e.custom = c.CustomCommand
	s.persistMu.Lock()
	s.mu.Lock()
	s.seq++
	e.seq = s.seq
	s.mu.Unlock()
	// Recovery commands are the agent's own: the server knows no such
	// task, and the recovery manager re-decides after a restart.
	if s.journal != nil && c.CommandType != protocol.AutoExecutionCommand {
		var proc *procinfo.Identity
		if e.final {
			delete(s.procs, c.TaskID)
		} else if id, ok := s.procs[c.TaskID]; ok {
			proc = &id
		}
		s.writeJournal(c.TaskID, recordOf(e, proc))
	}
	s.mu.Lock()
	s.setLocked(e)
	evicted := s.evictLocked()
	s.mu.Unlock()
	s.removeFiles(evicted)
	s.persistMu.Unlock()
	s.nudge(s.kick)
}

// queued journals commands the server just handed over, before they are
// acknowledged and before they can start, so that a restart reports them
// instead of leaving the server waiting for its task timeout. A task that
// already has a report (the server sent a running or finished task again)
// keeps it.
func (s *statusStore) queued(cmds []*command) {
	if s.journal == nil {
		return
	}
	s.persistMu.Lock()
	defer s.persistMu.Unlock()
	for _, c := range cmds {
		if !periodicType(c.CommandType) {
			continue
		}
		s.mu.Lock()
		_, known := s.entries[c.TaskID]
		s.mu.Unlock()
		if known {
			continue
		}
		body, err := marshal(template(c))
		if err != nil {
			continue
		}
		if err := s.journal.write(c.TaskID, &journalRecord{CommandType: c.CommandType, CustomCommand: c.CustomCommand, Report: body, Queued: true}); err != nil {
			s.log.WithError(err).WithField("taskId", c.TaskID).Error("Cannot journal a queued command; an agent restart would lose it")
			if s.cfg.onWriteError != nil {
				s.cfg.onWriteError(err)
			}
		}
	}
}

// processStarted journals the script a running task has just started,
// so that the next agent process can stop it if the agent dies meanwhile.
func (s *statusStore) processStarted(c *command, pid int) {
	if s.journal == nil || c.CommandType == protocol.AutoExecutionCommand {
		return
	}
	id, err := procinfo.Identify(pid)
	if err != nil {
		return // already over: nothing to stop later
	}
	s.persistMu.Lock()
	defer s.persistMu.Unlock()
	s.mu.Lock()
	e := s.entries[c.TaskID]
	s.mu.Unlock()
	if e == nil || e.final {
		return
	}
	s.procs[c.TaskID] = id
	s.writeJournal(c.TaskID, recordOf(e, &id))
}

// recordOf is the journal record of an entry's state.
func recordOf(e *entry, proc *procinfo.Identity) *journalRecord {
	return &journalRecord{
		Seq:               e.seq,
		CommandType:       e.typ,
		OutFile:           e.outFile,
		ErrFile:           e.errFile,
		StructuredOutFile: e.structuredOut,
		CustomCommand:     e.custom,
		Report:            e.body,
		Process:           proc,
	}
}

// unsavedRecord is a task's latest record whose journal write failed.
type unsavedRecord struct {
	rec *journalRecord
	// since is the first failure: retries end journalRetryFor after it.
	since time.Time
}

// writeJournal writes a task's record; persistMu must be held. A failed
// write is reported and kept for retries.
func (s *statusStore) writeJournal(taskID int64, rec *journalRecord) {
	err := s.journal.write(taskID, rec)
	if err == nil {
		if _, was := s.unsaved[taskID]; was {
			delete(s.unsaved, taskID)
			s.log.WithField("taskId", taskID).Info("Command report journaled after earlier failures")
		}
		return
	}
	if s.cfg.onWriteError != nil {
		s.cfg.onWriteError(err)
	}
	u := s.unsaved[taskID]
	if u == nil {
		u = &unsavedRecord{since: time.Now()}
		s.unsaved[taskID] = u
		s.log.WithError(err).WithField("taskId", taskID).
			Errorf("Cannot journal command report; it is kept in memory and the write is retried every %s for up to %s", s.cfg.journalRetry, s.cfg.journalGiveUp)
	}
	u.rec = rec
	s.armRetryLocked()
}

// armRetryLocked schedules a retry of the unsaved records; persistMu must
// be held.
func (s *statusStore) armRetryLocked() {
	if s.stopped || len(s.unsaved) == 0 || s.retryTimer != nil {
		return
	}
	s.retryTimer = time.AfterFunc(s.cfg.journalRetry, s.retryUnsaved)
}

// retryUnsaved writes the unsaved records again. A task whose report the
// server acknowledged, or that was dropped, needs no file any more.
func (s *statusStore) retryUnsaved() {
	s.persistMu.Lock()
	defer s.persistMu.Unlock()
	s.retryTimer = nil
	for id, u := range s.unsaved {
		s.mu.Lock()
		e := s.entries[id]
		s.mu.Unlock()
		if e == nil || e.seq != u.rec.Seq {
			// Acknowledged or dropped: the file is not needed any more.
			delete(s.unsaved, id)
			continue
		}
		if time.Since(u.since) > s.cfg.journalGiveUp {
			delete(s.unsaved, id)
			s.log.WithField("taskId", id).
				Errorf("Giving up journaling the command report after %s; it stays in memory until the server acknowledges it, and an agent crash before that loses it", s.cfg.journalGiveUp)
			continue
		}
		s.writeJournal(id, u.rec)
	}
	s.armRetryLocked()
}

// stopRetries ends the journal retries when the store stops, after one
// last try.
func (s *statusStore) stopRetries() {
	s.persistMu.Lock()
	pending := len(s.unsaved) > 0
	s.persistMu.Unlock()
	if pending {
		s.retryUnsaved()
	}
	s.persistMu.Lock()
	s.stopped = true
	if s.retryTimer != nil {
		s.retryTimer.Stop()
		s.retryTimer = nil
	}
	s.persistMu.Unlock()
}

// unqueued forgets the journal record of a queued task that will not run
// (cancelled before it started).
func (s *statusStore) unqueued(taskID int64) {
	if s.journal == nil {
		return
	}
	s.persistMu.Lock()
	defer s.persistMu.Unlock()
	s.mu.Lock()
	_, known := s.entries[taskID]
	s.mu.Unlock()
	if !known {
		s.journal.remove(taskID)
	}
}

// drop forgets a task without reporting it (rescheduled-cancel rule).
func (s *statusStore) drop(taskID int64) {
	s.persistMu.Lock()
	s.mu.Lock()
	if e := s.entries[taskID]; e != nil {
		s.deleteLocked(e)
	}
	s.mu.Unlock()
	s.removeFiles([]int64{taskID})
	s.persistMu.Unlock()
}

func (s *statusStore) setLocked(e *entry) {
	if old := s.entries[e.taskID]; old != nil {
		s.deleteLocked(old)
	}
	s.entries[e.taskID] = e
	if e.acked != e.seq {
		s.dirty++
	}
	if periodicType(e.typ) {
		s.periodic++
	}
}

func (s *statusStore) deleteLocked(e *entry) {
	delete(s.entries, e.taskID)
	if e.acked != e.seq {
		s.dirty--
	}
	if periodicType(e.typ) {
		s.periodic--
	}
}

// evictLocked enforces the bound on stored tasks, dropping the oldest.
func (s *statusStore) evictLocked() []int64 {
	var gone []int64
	for len(s.entries) > s.cfg.maxEntries {
		var oldest *entry
		for _, e := range s.entries {
			if oldest == nil || e.seq < oldest.seq {
				oldest = e
			}
		}
		s.log.WithFields(logrus.Fields{"taskId": oldest.taskID, "limit": s.cfg.maxEntries}).
			Warn("Too many unacknowledged command reports; dropping the oldest")
		s.deleteLocked(oldest)
		gone = append(gone, oldest.taskID)
	}
	return gone
}

// removeFiles drops journal files; persistMu must be held.
func (s *statusStore) removeFiles(ids []int64) {
	if s.journal == nil {
		return
	}
	for _, id := range ids {
		delete(s.unsaved, id)
		delete(s.procs, id)
		if err := s.journal.remove(id); err != nil {
			s.log.WithError(err).Warn("Cannot drop journaled command report")
		}
	}
}

func (s *statusStore) nudge(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// registered is called after each registration.
func (s *statusStore) registered() { s.nudge(s.reg) }

// recover loads the journal at start. A task whose last state is
// IN_PROGRESS was running when the agent stopped; it gets a FAILED report
// with what its output files hold.
func (s *statusStore) recover() {
	recs, bad := s.journal.load()
	for _, err := range bad {
		s.log.WithError(err).Warn("Dropping unreadable journaled command report")
	}
	if over := len(recs) - s.cfg.maxEntries; over > 0 {
		s.log.WithField("limit", s.cfg.maxEntries).Warnf("Too many journaled command reports; dropping the %d oldest", over)
		for _, lr := range recs[:over] {
			s.journal.remove(lr.taskID)
		}
		recs = recs[over:]
	}
	for _, lr := range recs {
		var r protocol.CommandReport
		dec := json.NewDecoder(bytes.NewReader(lr.rec.Report))
		dec.UseNumber()
		if err := dec.Decode(&r); err != nil {
			s.log.WithError(err).WithField("taskId", lr.taskID).Warn("Dropping unreadable journaled command report")
			s.journal.remove(lr.taskID)
			continue
		}
		if lr.rec.Seq > s.seq {
			s.seq = lr.rec.Seq
		}
		c := &command{CommandHeader: protocol.CommandHeader{
			CommandType: lr.rec.CommandType,
			TaskID:      r.TaskID,
			CommandID:   r.ActionID,
			ClusterID:   r.ClusterID,
			ServiceName: r.ServiceName,
			Role:        r.Role,
			RoleCommand: r.RoleCommand,
		}}
		key, _ := marshal(c.ClusterID)
		e := &entry{
			taskID: r.TaskID, typ: c.CommandType, clusterKey: key, tmpl: template(c),
			outFile: lr.rec.OutFile, errFile: lr.rec.ErrFile, structuredOut: lr.rec.StructuredOutFile,
			custom: lr.rec.CustomCommand,
			seq:    lr.rec.Seq, final: r.Status != protocol.StatusInProgress && !lr.rec.Queued, body: lr.rec.Report,
		}
		s.setLocked(e)
	}
	reaped := s.reapOrphans(recs)
	// The FAILED reports get sequence numbers after everything loaded, so
	// they go out after the reports produced before the restart.
	for _, lr := range recs {
		e := s.entries[lr.taskID]
		if e == nil || e.final {
			continue
		}
		msg := RestartedMessage
		switch {
		case lr.rec.Queued:
			msg = NotRunMessage
			s.log.WithField("taskId", e.taskID).Warn("Command was still queued when the agent stopped; reporting it FAILED")
		case reaped[e.taskID]:
			msg = ReapedMessage
			s.log.WithField("taskId", e.taskID).Warn("Command was still running after the agent restarted and has been stopped; reporting it FAILED")
		default:
			s.log.WithField("taskId", e.taskID).Warn("Command was running when the agent stopped; reporting it FAILED")
		}
		r := restartedReport(e, lr.rec.CustomCommand, msg, s.cfg.logMaxSymbols)
		body, err := marshal(r)
		if err != nil {
			continue
		}
		s.seq++
		rec := lr.rec
		rec.Seq, rec.Report, rec.Process = s.seq, body, nil
		ne := *e
		ne.seq, ne.acked, ne.final, ne.body = s.seq, 0, true, body
		s.setLocked(&ne)
		s.writeJournal(e.taskID, &rec)
	}
}

// reapOrphans stops the commands that the journal says were running and
// that still run, all at once (each kill may wait out its grace period),
// and returns their task ids. It runs before any report is sent, so the
// server never hears FAILED while the command still runs.
func (s *statusStore) reapOrphans(recs []loadedRecord) map[int64]bool {
	if s.cfg.reap == nil {
		return nil
	}
	var (
		mu     sync.Mutex
		wg     sync.WaitGroup
		reaped = map[int64]bool{}
	)
	for _, lr := range recs {
		e := s.entries[lr.taskID]
		if e == nil || e.final || lr.rec.Queued || lr.rec.Process == nil {
			continue
		}
		id := *lr.rec.Process
		wg.Add(1)
		go func() {
			defer wg.Done()
			if s.cfg.reap(id) {
				mu.Lock()
				reaped[lr.taskID] = true
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return reaped
}

// restartedReport is the FAILED report of a command the agent lost track
// of: the tails of its output files and a message saying what happened.
func restartedReport(e *entry, customCommand, message string, maxSymbols int) protocol.CommandReport {
	r := e.tmpl
	r.CustomCommand = customCommand
	out := tailOrEmpty(e.outFile, maxSymbols)
	errText := tailOrEmpty(e.errFile, maxSymbols)
	if errText != "" {
		errText += "\n\n"
	}
	errText += message
	r.Stdout = ptr(orNone(out))
	r.Stderr = ptr(errText)
	r.ExitCode = ptr(restartedExitCode)
	so := rawStructuredOut(e.structuredOut)
	if !json.Valid([]byte(so)) {
		so = "{}"
	}
	r.StructuredOut = ptr(so)
	r.Status = protocol.StatusFailed
	return r
}

func tailOrEmpty(path string, maxSymbols int) string {
	if path == "" {
		return ""
	}
	t := orchestrator.TailOutputFile(path, maxSymbols)
	if t == "..." {
		return ""
	}
	return t
}

// item is one report in a message being built.
type item struct {
	taskID     int64
	seq        uint64
	clusterKey []byte
	body       []byte
	// e is set for an in-progress task whose periodic report is built at
	// send time.
	e *entry
}

// run is the CommandStatusReporter thread plus the immediate sends of
// put_command_status, on one goroutine so that reports leave in the order
// they were produced.
func (s *statusStore) run(ctx context.Context) {
	var tick <-chan time.Time
	if s.cfg.interval > 0 {
		t := time.NewTicker(s.cfg.interval)
		defer t.Stop()
		tick = t.C
	} else {
		s.log.Warn("Periodic command reports are off (command_reports_interval=0)")
	}
	retry := time.NewTimer(time.Hour)
	retry.Stop()
	defer retry.Stop()
	armed := false
	if s.cfg.liveness != nil {
		s.cfg.liveness.Idle()
	}
	for {
		select {
		case <-ctx.Done():
			s.stopRetries()
			s.flushOnStop()
			return
		case <-s.reg:
			s.down = false
			s.sendPending(ctx, false)
		case <-s.kick:
			if !s.down {
				s.sendPending(ctx, false)
			}
		case <-tick:
			if !s.down {
				s.sendPending(ctx, true)
			}
		case <-retry.C:
			armed = false
			s.sendPending(ctx, s.cfg.interval > 0)
		}
		// Something unacknowledged that nothing else would bring out: try
		// again later. While the link is down that is rare, since
		// Registered() is the real trigger.
		if armed {
			continue
		}
		s.mu.Lock()
		pending := s.dirty > 0
		s.mu.Unlock()
		switch {
		case s.down:
			retry.Reset(downProbeInterval)
			armed = true
		case pending && s.cfg.interval == 0:
			retry.Reset(retryInterval)
			armed = true
		}
	}
}

func (s *statusStore) flushOnStop() {
	s.mu.Lock()
	pending := s.dirty > 0
	s.mu.Unlock()
	if !pending || s.down {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), stopFlushTimeout)
	defer cancel()
	s.sendPending(ctx, false)
}

// sendPending sends the reports whose latest state the server has not
// acknowledged (the immediate sends) and, for a periodic cycle, the current
// state of every running task and every unacknowledged final report.
// Recovery commands never appear in periodic reports (docs/behaviour.md §5.6).
func (s *statusStore) sendPending(ctx context.Context, periodic bool) {
	if s.cfg.sender == nil {
		return
	}
	s.mu.Lock()
	if s.dirty == 0 && (!periodic || s.periodic == 0) {
		s.mu.Unlock()
		return
	}
	if s.cfg.liveness != nil {
		defer s.cfg.liveness.Begin()()
	}
	items := s.scratch[:0]
	for _, e := range s.entries {
		dirty := e.acked != e.seq
		switch {
		case periodic && periodicType(e.typ) && !e.final && !dirty:
			// A running task's stored report (form A) goes out once as it
			// is; only after that do periodic cycles send the output so
			// far. A tick landing between a command's start and the
			// immediate send must not replace form A with form B.
			items = append(items, item{taskID: e.taskID, seq: e.seq, clusterKey: e.clusterKey, e: e})
		case dirty || (periodic && periodicType(e.typ)):
			items = append(items, item{taskID: e.taskID, seq: e.seq, clusterKey: e.clusterKey, body: e.body})
		}
	}
	s.mu.Unlock()
	sort.Slice(items, func(a, b int) bool { return items[a].seq < items[b].seq })
	for i := range items {
		if e := items[i].e; e != nil {
			// Entries are never modified once stored, so reading the
			// template outside the lock is safe.
			body, err := marshal(formB(e.tmpl, e.outFile, e.errFile, e.structuredOut, s.cfg.logMaxSymbols))
			if err != nil {
				body = e.body
			}
			items[i].body, items[i].e = body, nil
		}
	}
	s.sendItems(ctx, items)
	for i := range items {
		items[i] = item{}
	}
	s.scratch = items[:0]
}

// sendItems sends items in messages of at most maxSize characters and
// applies the acknowledgements. It stops at the first failed request: the
// link is down and everything unsent stays pending.
func (s *statusStore) sendItems(ctx context.Context, items []item) {
	for len(items) > 0 {
		n := splitPoint(items, s.cfg.maxSize)
		part := items[:n]
		items = items[n:]
		body := buildMessage(part)
		rctx, cancel := context.WithTimeout(ctx, sendTimeout)
		reply, err := s.cfg.sender.Request(rctx, protocol.ReportsCommandsStatus, body)
		cancel()
		if err != nil {
			s.log.WithError(err).Debug("Command reports not sent; kept for later")
			s.down = true
			return
		}
		if !protocol.IsOK(reply) {
			// The server answered; later parts may still be accepted.
			s.log.Warn("Server did not acknowledge command reports; they will be sent again")
			continue
		}
		s.ack(part)
	}
}

// ack applies an acknowledgement: a final report (or any report of a
// recovery command, sent once) is forgotten, a running task's latest state
// is marked delivered. A task that changed since the message was built
// keeps its newer state.
func (s *statusStore) ack(part []item) {
	var gone []int64
	s.persistMu.Lock()
	s.mu.Lock()
	for _, it := range part {
		e := s.entries[it.taskID]
		if e == nil || e.seq != it.seq {
			continue
		}
		if e.final || !periodicType(e.typ) {
			s.deleteLocked(e)
			if periodicType(e.typ) {
				gone = append(gone, e.taskID)
			}
			continue
		}
		if e.acked != e.seq {
			e.acked = e.seq
			s.dirty--
		}
	}
	s.mu.Unlock()
	s.removeFiles(gone)
	s.persistMu.Unlock()
}

// splitPoint returns how many of items go into the next message: as many
// as keep the message's JSON map within max characters, at least one (a
// larger report goes alone). Python's splitter also emits an empty message
// before such a report; that is not copied.
func splitPoint(items []item, max int) int {
	size := 2 // {}
	var clusters [][]byte
	for i, it := range items {
		add := len(it.body)
		seen := false
		for _, k := range clusters {
			if bytes.Equal(k, it.clusterKey) {
				seen = true
				break
			}
		}
		if seen {
			add++ // comma
		} else {
			add += len(it.clusterKey) + 3 // "k":[]
			if len(clusters) > 0 {
				add++ // comma
			}
		}
		if i > 0 && size+add > max {
			return i
		}
		size += add
		if !seen {
			clusters = append(clusters, it.clusterKey)
		}
	}
	return len(items)
}

// buildMessage renders {"clusters":{<clusterId>:[report,...],...}} with the
// clusters in order of first appearance.
func buildMessage(items []item) []byte {
	n := 16
	for _, it := range items {
		n += len(it.body) + len(it.clusterKey) + 4
	}
	buf := make([]byte, 0, n)
	buf = append(buf, `{"clusters":{`...)
	first := true
	for i, it := range items {
		dup := false
		for _, prev := range items[:i] {
			if bytes.Equal(prev.clusterKey, it.clusterKey) {
				dup = true
				break
			}
		}
		if dup {
			continue
		}
		if !first {
			buf = append(buf, ',')
		}
		first = false
		buf = append(buf, it.clusterKey...)
		buf = append(buf, ':', '[')
		sep := false
		for _, o := range items[i:] {
			if !bytes.Equal(o.clusterKey, it.clusterKey) {
				continue
			}
			if sep {
				buf = append(buf, ',')
			}
			sep = true
			buf = append(buf, o.body...)
		}
		buf = append(buf, ']')
	}
	buf = append(buf, '}', '}')
	return buf
}
