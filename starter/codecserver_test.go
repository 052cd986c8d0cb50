package main

import (
	"crypto/rand"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestNewCodecHandler(t *testing.T) {
	t.Parallel()
	secret := make([]byte, 32)
	_, err := rand.Read(secret)
	require.NoError(t, err)
	keys := "k2:" + base64.StdEncoding.EncodeToString(secret) + ",k1:" + base64.StdEncoding.EncodeToString(secret)
	tests := []struct {
		name    string
		env     map[string]string
		origin  string
		authEnv string
		wantErr string
		wantIDs []string
	}{
		{name: "keys only", env: map[string]string{"CRMSYNC_PAYLOAD_KEYS": keys}, wantIDs: []string{"k2", "k1"}},
		{name: "with origin and token", env: map[string]string{"CRMSYNC_PAYLOAD_KEYS": keys, "CODEC_TOKEN": "t"},
			origin: "http://localhost:8233/", authEnv: "CODEC_TOKEN", wantIDs: []string{"k2", "k1"}},
		{name: "no keys", env: map[string]string{}, wantErr: "CRMSYNC_PAYLOAD_KEYS is not set"},
		{name: "bad keys", env: map[string]string{"CRMSYNC_PAYLOAD_KEYS": "k1:abc"}, wantErr: "CRMSYNC_PAYLOAD_KEYS: entry 1"},
		{name: "token variable empty", env: map[string]string{"CRMSYNC_PAYLOAD_KEYS": keys}, authEnv: "CODEC_TOKEN", wantErr: "CODEC_TOKEN (the bearer token's variable"},
		{name: "origin with a path", env: map[string]string{"CRMSYNC_PAYLOAD_KEYS": keys}, origin: "http://localhost:8233/namespaces", wantErr: "--cors-origin"},
		{name: "origin without a scheme", env: map[string]string{"CRMSYNC_PAYLOAD_KEYS": keys}, origin: "localhost:8233", wantErr: "--cors-origin"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h, ids, err := newCodecHandler(func(k string) string { return tc.env[k] }, tc.origin, tc.authEnv)
			if tc.wantErr != "" {
				require.ErrorContains(t, err, tc.wantErr)
				require.NotContains(t, err.Error(), base64.StdEncoding.EncodeToString(secret))
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.wantIDs, ids)
			// An unauthenticated request is turned away exactly when a token is configured.
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/decode", nil))
			if tc.authEnv != "" {
				require.Equal(t, http.StatusUnauthorized, rec.Code)
			} else {
				require.Equal(t, http.StatusBadRequest, rec.Code)
			}
		})
	}
}
