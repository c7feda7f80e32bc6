package sim

import (
	"encoding/json"
	"io"
	"net/http"
	"strconv"
)

// maxCSRBody bounds a certificate-signing request body.
const maxCSRBody = 64 << 10

// agentHandler serves the agent ports: what the server's agent filter lets
// through on url_port (docs/protocol.md §1.1–1.2), plus the STOMP endpoint on
// the secured port.
func (s *Server) agentHandler(secured bool) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /ca", func(w http.ResponseWriter, r *http.Request) {
		// The liveness probe: any 200 will do.
		w.WriteHeader(http.StatusOK)
	})
	mux.HandleFunc("GET /connection_info", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"security.server.two_way_ssl": strconv.FormatBool(s.twoWay)})
	})
	serveCA := func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/x-pem-file")
		_, _ = w.Write(s.tls.caPEM)
	}
	mux.HandleFunc("GET /cert/ca", serveCA)
	mux.HandleFunc("GET /cert/ca/{$}", serveCA)
	mux.HandleFunc("POST /certs/{name}", s.signAgentCert)
	if s.res != nil {
		mux.Handle("GET /resources/", s.res)
	}
	if secured {
		mux.HandleFunc("GET /agent/stomp/v1", s.serveAgent)
	}
	return mux
}

// signAgentCert answers POST /certs/<host> with the CSR signed by the
// simulator's CA when the passphrase matches.
func (s *Server) signAgentCert(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	log := s.log.WithField("host", name)
	if name == "" || (name[0] >= '0' && name[0] <= '9') {
		// The server's filter does not pass names starting with a digit.
		http.NotFound(w, r)
		return
	}
	var req struct {
		CSR        string `json:"csr"`
		Passphrase string `json:"passphrase"`
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxCSRBody))
	if err == nil {
		err = json.Unmarshal(body, &req)
	}
	if err != nil || req.CSR == "" {
		writeJSON(w, http.StatusOK, map[string]string{"result": "ERROR", "message": "Invalid request: a JSON body with csr and passphrase is required"})
		log.Warnf("certificate request for %s: invalid body", name)
		return
	}
	if s.cfg.Passphrase != "" && req.Passphrase != s.cfg.Passphrase {
		writeJSON(w, http.StatusOK, map[string]string{"result": "ERROR", "message": "Agent passphrase does not match the server's"})
		log.Warnf("certificate request for %s refused: wrong passphrase", name)
		return
	}
	signed, err := s.tls.signCSR([]byte(req.CSR))
	if err != nil {
		writeJSON(w, http.StatusOK, map[string]string{"result": "ERROR", "message": "Cannot sign the request: " + err.Error()})
		log.WithError(err).Warnf("certificate request for %s refused", name)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"result": "OK", "signedCa": string(signed)})
	log.Infof("signed the certificate of %s", name)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}
