package crmsim

import (
	"encoding/json"
	"net/http"
)

// adminPrefix starts every admin route. Admin routes need no token and are never counted
// or rate limited, so driving the demo does not disturb the numbers it shows.
const adminPrefix = "/_sim/"

func (s *Sim) adminRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET "+adminPrefix+"healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeAdmin(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET "+adminPrefix+"stats", func(w http.ResponseWriter, _ *http.Request) {
		writeAdmin(w, http.StatusOK, s.Stats())
	})
	mux.HandleFunc("POST "+adminPrefix+"stats/reset", func(w http.ResponseWriter, _ *http.Request) {
		s.ResetStats()
		writeAdmin(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET "+adminPrefix+"snapshot", func(w http.ResponseWriter, r *http.Request) {
		recs, err := s.Snapshot(r.URL.Query().Get("object"))
		if err != nil {
			writeAdminError(w, http.StatusBadRequest, err)
			return
		}
		writeAdmin(w, http.StatusOK, struct {
			Results []Record `json:"results"`
		}{recs})
	})
	mux.HandleFunc("POST "+adminPrefix+"mutate", func(w http.ResponseWriter, r *http.Request) {
		var spec MutationSpec
		if err := decodeBody(r, &spec); err != nil {
			writeAdminError(w, http.StatusBadRequest, err)
			return
		}
		res, err := s.Mutate(spec)
		if err != nil {
			writeAdminError(w, http.StatusBadRequest, err)
			return
		}
		writeAdmin(w, http.StatusOK, res)
	})
	mux.HandleFunc("POST "+adminPrefix+"faults", func(w http.ResponseWriter, r *http.Request) {
		var f Fault
		if err := decodeBody(r, &f); err != nil {
			writeAdminError(w, http.StatusBadRequest, err)
			return
		}
		if err := f.Validate(); err != nil {
			writeAdminError(w, http.StatusBadRequest, err)
			return
		}
		s.InjectFault(f)
		writeAdmin(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("POST "+adminPrefix+"write-faults", func(w http.ResponseWriter, r *http.Request) {
		var f WriteFaults
		if err := decodeBody(r, &f); err != nil {
			writeAdminError(w, http.StatusBadRequest, err)
			return
		}
		if err := s.SetWriteFaults(f); err != nil {
			writeAdminError(w, http.StatusBadRequest, err)
			return
		}
		writeAdmin(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET "+adminPrefix+"writes", func(w http.ResponseWriter, _ *http.Request) {
		writeAdmin(w, http.StatusOK, s.WriteStats())
	})
	mux.HandleFunc("POST "+adminPrefix+"writes/reset", func(w http.ResponseWriter, _ *http.Request) {
		s.ResetWriteStats()
		writeAdmin(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc(adminPrefix, func(w http.ResponseWriter, r *http.Request) {
		writeAdmin(w, http.StatusNotFound, map[string]string{"error": "no admin route " + r.Method + " " + r.URL.Path})
	})
}

func writeAdmin(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"error":"encoding response"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b) // the client may have gone; nothing to do about it
}

func writeAdminError(w http.ResponseWriter, status int, err error) {
	writeAdmin(w, status, map[string]string{"error": err.Error()})
}
