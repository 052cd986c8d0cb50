package payloadcrypt

import (
	"crypto/subtle"
	"net/http"
	"strings"

	"go.temporal.io/sdk/converter"
)

// HandlerOptions configure NewHandler.
type HandlerOptions struct {
	// CORSOrigin is the origin of the Temporal Web UI (e.g. http://localhost:8233) whose
	// pages may call the endpoint from the browser; empty: no cross-origin access.
	CORSOrigin string
	// Token, when set, is the bearer token every request must present
	// (Authorization: Bearer <token>); empty: no authentication.
	Token string
}

// maxBody bounds a request: a batch of payloads of at most 2 MB each, as the UI sends them.
const maxBody = 32 << 20

// NewHandler serves the Temporal codec protocol for c: POST .../encode and .../decode with a
// JSON Payloads body, as the Web UI's "Codec Server endpoint" setting and the CLI's
// --codec-endpoint call it. CORS preflights (OPTIONS) are answered before authentication,
// as browsers send them without credentials.
func NewHandler(c *Codec, o HandlerOptions) http.Handler {
	codec := converter.NewPayloadCodecHTTPHandler(c)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if o.CORSOrigin != "" {
			h := w.Header()
			h.Add("Vary", "Origin")
			h.Set("Access-Control-Allow-Origin", o.CORSOrigin)
			h.Set("Access-Control-Allow-Credentials", "true")
			h.Set("Access-Control-Allow-Methods", "POST, OPTIONS")
			h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type, X-Namespace")
			h.Set("Access-Control-Max-Age", "600")
		}
		if r.Method == http.MethodOptions {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		if o.Token != "" && !authorized(r, o.Token) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="crmsync codec"`)
			http.Error(w, http.StatusText(http.StatusUnauthorized), http.StatusUnauthorized)
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, maxBody)
		codec.ServeHTTP(w, r)
	})
}

// authorized reports whether r carries "Authorization: Bearer <token>", compared in
// constant time.
func authorized(r *http.Request, token string) bool {
	scheme, got, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(strings.TrimSpace(got)), []byte(token)) == 1
}
