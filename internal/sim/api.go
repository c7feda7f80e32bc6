package sim

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// The control API: plain HTTP JSON on the API port (loopback by default),
// documented with curl examples in configs/sim/README.md. It also serves
// /resources, like the server's :8080.

const (
	maxAPIBody     = 8 << 20
	maxReportsWait = 60 * time.Second
)

func (s *Server) apiHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", s.apiIndex)
	mux.HandleFunc("GET /api/v1/{$}", s.apiIndex)
	mux.HandleFunc("GET /api/v1/status", s.apiStatus)
	mux.Handle("GET /metrics", s.metricsHandler())
	mux.HandleFunc("GET /api/v1/metrics", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, s.Metrics())
	})
	mux.HandleFunc("GET /api/v1/scenario", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, s.cfg.Scenario)
	})
	mux.HandleFunc("GET /api/v1/hosts", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, s.Hosts())
	})
	mux.HandleFunc("GET /api/v1/hosts/{host}", func(w http.ResponseWriter, r *http.Request) {
		st, ok := s.HostState(r.PathValue("host"))
		if !ok {
			apiError(w, fmt.Errorf("%w %q", ErrUnknownHost, r.PathValue("host")))
			return
		}
		writeJSON(w, http.StatusOK, st)
	})
	mux.HandleFunc("POST /api/v1/hosts/{host}/restart", func(w http.ResponseWriter, r *http.Request) {
		if err := s.RestartAgent(r.PathValue("host")); err != nil {
			apiError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"result": "RESTART_AGENT sent"})
	})
	mux.HandleFunc("GET /api/v1/reports", s.apiReports)
	mux.HandleFunc("POST /api/v1/push", func(w http.ResponseWriter, r *http.Request) {
		var p Push
		if !decodeBody(w, r, &p) {
			return
		}
		n, err := s.Push(p)
		if err != nil {
			apiError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]int{"delivered": n})
	})
	mux.HandleFunc("POST /api/v1/commands", s.apiCommands)
	mux.HandleFunc("GET /api/v1/tasks", func(w http.ResponseWriter, r *http.Request) {
		tasks := s.Tasks(r.URL.Query().Get("host"))
		if tasks == nil {
			tasks = []TaskState{}
		}
		writeJSON(w, http.StatusOK, tasks)
	})
	mux.HandleFunc("GET /api/v1/tasks/{id}", func(w http.ResponseWriter, r *http.Request) {
		id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
		t, ok := s.Task(id)
		if err != nil || !ok {
			apiError(w, fmt.Errorf("%w %s", ErrUnknownTask, r.PathValue("id")))
			return
		}
		writeJSON(w, http.StatusOK, t)
	})
	mux.HandleFunc("POST /api/v1/tasks/{id}/cancel", func(w http.ResponseWriter, r *http.Request) {
		id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
		if err != nil {
			apiError(w, fmt.Errorf("%w %s", ErrUnknownTask, r.PathValue("id")))
			return
		}
		var req struct {
			Reason string `json:"reason"`
		}
		if r.ContentLength != 0 && !decodeBody(w, r, &req) {
			return
		}
		if err := s.Cancel(id, req.Reason); err != nil {
			apiError(w, err)
			return
		}
		t, _ := s.Task(id)
		writeJSON(w, http.StatusOK, t)
	})
	mux.HandleFunc("POST /api/v1/configs", func(w http.ResponseWriter, r *http.Request) {
		var ch ConfigChange
		if !decodeBody(w, r, &ch) {
			return
		}
		n, err := s.UpdateConfigs(ch)
		if err != nil {
			apiError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]int{"delivered": n})
	})
	mux.HandleFunc("POST /api/v1/alert-definitions", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Cluster    string              `json:"cluster"`
			Definition AlertDefinitionSpec `json:"definition"`
		}
		if !decodeBody(w, r, &req) {
			return
		}
		id, err := s.UpsertAlertDefinition(req.Cluster, req.Definition)
		if err != nil {
			apiError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]int64{"definitionId": id})
	})
	mux.HandleFunc("DELETE /api/v1/alert-definitions/{id}", func(w http.ResponseWriter, r *http.Request) {
		id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
		if err == nil {
			err = s.DeleteAlertDefinition(r.URL.Query().Get("cluster"), id)
		}
		if err != nil {
			apiError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]int64{"deleted": id})
	})
	mux.HandleFunc("POST /api/v1/encryption-key", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			EncryptionKey string `json:"encryptionKey"`
		}
		if !decodeBody(w, r, &req) {
			return
		}
		n, err := s.SetEncryptionKey(req.EncryptionKey)
		if err != nil {
			apiError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]int{"delivered": n})
	})
	mux.HandleFunc("GET /api/v1/faults", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, s.Faults())
	})
	setFaults := func(w http.ResponseWriter, r *http.Request) {
		var f Faults
		if !decodeBody(w, r, &f) {
			return
		}
		s.SetFaults(f)
		writeJSON(w, http.StatusOK, s.Faults())
	}
	mux.HandleFunc("PUT /api/v1/faults", setFaults)
	mux.HandleFunc("POST /api/v1/faults", setFaults)
	if s.res != nil {
		mux.Handle("GET /resources/", s.res)
	}
	// /api/hosts and the like are short for /api/v1/hosts.
	mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/api/v1/") {
			apiError(w, &apiErr{http.StatusNotFound, "no such endpoint; GET /api/v1/ lists them"})
			return
		}
		r2 := r.Clone(r.Context())
		r2.URL.Path = "/api/v1/" + strings.TrimPrefix(r.URL.Path, "/api/")
		r2.URL.RawPath = ""
		mux.ServeHTTP(w, r2)
	})
	return mux
}

const apiIndexText = `ambari-sim control API (JSON); see configs/sim/README.md
GET    /api/v1/status                     ports, URLs, scenario, metrics
GET    /api/v1/metrics                    counters and rates
GET    /api/v1/scenario                   the loaded scenario
GET    /api/v1/hosts                      every host's state
GET    /api/v1/hosts/{host}               one host's state
POST   /api/v1/hosts/{host}/restart       send RESTART_AGENT
GET    /api/v1/reports?host=&destination=&since=&limit=&wait=   received SENDs
POST   /api/v1/push                       {"topic","host","body"}
POST   /api/v1/commands                   {"host","commands":[...]} or {"host","event":{...}}
GET    /api/v1/tasks?host=                tasks
GET    /api/v1/tasks/{id}                 one task
POST   /api/v1/tasks/{id}/cancel          {"reason"}
POST   /api/v1/configs                    {"cluster","type","properties","delete","replace","removeType"}
POST   /api/v1/alert-definitions          {"cluster","definition":{...}}
DELETE /api/v1/alert-definitions/{id}?cluster=
POST   /api/v1/encryption-key             {"encryptionKey"}
GET    /api/v1/faults, PUT /api/v1/faults fault switches
GET    /resources/<dir>/.hash, /resources/<dir>/archive.zip
`

func (s *Server) apiIndex(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = io.WriteString(w, apiIndexText)
}

func (s *Server) apiStatus(w http.ResponseWriter, r *http.Request) {
	resources := ""
	if s.res != nil {
		resources = s.res.root
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"scenario":       s.cfg.Scenario.Name,
		"description":    s.cfg.Scenario.Description,
		"host":           s.Host(),
		"urlPort":        s.URLPort(),
		"securedUrlPort": s.SecuredURLPort(),
		"apiPort":        s.APIPort(),
		"serverUrl":      s.ServerURL(),
		"stompUrl":       s.StompURL(),
		"resourcesUrl":   s.ResourcesURL(),
		"resourcesDir":   resources,
		"twoWaySSL":      s.twoWay,
		"metrics":        s.Metrics(),
	})
}

// apiReports lists records; with wait=<duration> it long-polls until at
// least one matching record arrives after since (or the wait ends), so a
// client can follow the stream without polling in a loop.
func (s *Server) apiReports(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	query := Query{Host: q.Get("host"), Destination: q.Get("destination")}
	var err error
	if v := q.Get("since"); v != "" {
		if query.Since, err = strconv.ParseUint(v, 10, 64); err != nil {
			apiError(w, badRequest("since: %v", err))
			return
		}
	}
	if v := q.Get("limit"); v != "" {
		if query.Limit, err = strconv.Atoi(v); err != nil {
			apiError(w, badRequest("limit: %v", err))
			return
		}
	}
	if v := q.Get("wait"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			apiError(w, badRequest("wait: %v", err))
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), min(d, maxReportsWait))
		_, _ = s.WaitRecord(ctx, Query{Host: query.Host, Destination: query.Destination, Since: query.Since}, nil)
		cancel()
	}
	recs := s.Records(query)
	if recs == nil {
		recs = []Record{}
	}
	writeJSON(w, http.StatusOK, recs)
}

// apiCommands sends high-level or raw commands to one host or to every
// host matching a pattern.
func (s *Server) apiCommands(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Host     string          `json:"host"`
		Commands []CommandSpec   `json:"commands"`
		Event    json.RawMessage `json:"event"`
	}
	if !decodeBody(w, r, &req) {
		return
	}
	if (len(req.Commands) == 0) == (len(req.Event) == 0) {
		apiError(w, badRequest(`give either "commands" or "event"`))
		return
	}
	s.mu.Lock()
	hosts, err := s.targets(req.Host)
	names := make([]string, len(hosts))
	for i, h := range hosts {
		names[i] = h.name
	}
	s.mu.Unlock()
	if err == nil && len(names) == 0 {
		err = fmt.Errorf("%w matching %q", ErrUnknownHost, req.Host)
	}
	if err != nil {
		apiError(w, err)
		return
	}
	out := []Sent{}
	for _, name := range names {
		if len(req.Event) > 0 {
			ids, err := s.SendCommandEvent(name, req.Event)
			if err != nil {
				apiError(w, err)
				return
			}
			out = append(out, Sent{Host: name, TaskIDs: ids})
			continue
		}
		sent, err := s.SendCommand(name, req.Commands...)
		if err != nil {
			apiError(w, err)
			return
		}
		out = append(out, sent)
	}
	writeJSON(w, http.StatusOK, out)
}

type apiErr struct {
	status int
	msg    string
}

func (e *apiErr) Error() string { return e.msg }

func badRequest(format string, args ...any) error {
	return &apiErr{http.StatusBadRequest, fmt.Sprintf(format, args...)}
}

func apiError(w http.ResponseWriter, err error) {
	status := http.StatusBadRequest
	var ae *apiErr
	switch {
	case errors.As(err, &ae):
		status = ae.status
	case errors.Is(err, ErrUnknownHost), errors.Is(err, ErrUnknownTask):
		status = http.StatusNotFound
	case errors.Is(err, ErrNotConnected), errors.Is(err, ErrTaskFinished):
		status = http.StatusConflict
	}
	writeJSON(w, status, map[string]string{"error": err.Error()})
}

// decodeBody reads a JSON body strictly (unknown fields are errors, so a
// misspelt key is reported rather than ignored).
func decodeBody(w http.ResponseWriter, r *http.Request, v any) bool {
	b, err := io.ReadAll(io.LimitReader(r.Body, maxAPIBody+1))
	if err == nil && len(b) > maxAPIBody {
		err = errors.New("body too large")
	}
	if err == nil {
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		err = dec.Decode(v)
	}
	if err != nil {
		apiError(w, badRequest("request body: %v", err))
		return false
	}
	return true
}
