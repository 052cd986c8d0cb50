package config_test

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crmsync/crmsync/internal/config"
)

// keyMaterial is a recognisable 32-byte key and its base64.
var (
	keyMaterial = bytes.Repeat([]byte("0123456789abcdef"), 2)
	keyB64      = base64.StdEncoding.EncodeToString(keyMaterial)
	otherB64    = base64.StdEncoding.EncodeToString(bytes.Repeat([]byte("fedcba9876543210"), 2))
)

func TestParsePayloadKeys(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		value   string
		wantIDs []string
		wantErr string
	}{
		{name: "unset", value: "", wantIDs: nil},
		{name: "blank", value: "  \n", wantIDs: nil},
		{name: "one key", value: "k1:" + keyB64, wantIDs: []string{"k1"}},
		{name: "rotated, spaces tolerated", value: " k2:" + otherB64 + " , k1: " + keyB64 + "\n", wantIDs: []string{"k2", "k1"}},
		{name: "bad base64", value: "k1:" + keyB64 + ",k2:not*base64!" + keyB64[:10], wantErr: `CRMSYNC_PAYLOAD_KEYS: entry 2 (key id "k2"): the key is not standard base64`},
		{name: "too short", value: "k1:" + base64.StdEncoding.EncodeToString(keyMaterial[:16]), wantErr: `entry 1 (key id "k1"): the key is 16 bytes, want 32`},
		{name: "too long", value: "k1:" + base64.StdEncoding.EncodeToString(append(bytes.Clone(keyMaterial), 'x')), wantErr: "the key is 33 bytes, want 32"},
		{name: "duplicate id", value: "k1:" + keyB64 + ",k1:" + otherB64, wantErr: `CRMSYNC_PAYLOAD_KEYS: entry 2: key id "k1" is also entry 1`},
		{name: "no id", value: keyB64, wantErr: "CRMSYNC_PAYLOAD_KEYS: entry 1: want id:base64-key"},
		{name: "empty id", value: ":" + keyB64, wantErr: "entry 1: want id:base64-key"},
		{name: "empty key", value: "k1:", wantErr: `entry 1 (key id "k1"): the key is empty`},
		{name: "empty entry", value: "k1:" + keyB64 + ",", wantErr: "CRMSYNC_PAYLOAD_KEYS: entry 2 is empty"},
		{name: "bad id", value: "k 1:" + keyB64, wantErr: "CRMSYNC_PAYLOAD_KEYS: entry 1: payload key \"k 1\": the id may not hold"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			keys, err := config.ParsePayloadKeys(tc.value)
			if tc.wantErr != "" {
				require.ErrorContains(t, err, tc.wantErr)
				requireNoKeyMaterial(t, err.Error())
				return
			}
			require.NoError(t, err)
			var ids []string
			for _, k := range keys {
				ids = append(ids, k.ID())
			}
			require.Equal(t, tc.wantIDs, ids)
		})
	}
}

func TestLoadEnvPayloadKeys(t *testing.T) {
	t.Parallel()
	e, err := config.LoadEnv(func(k string) string {
		return map[string]string{config.PayloadKeysEnv: "k2:" + otherB64 + ",k1:" + keyB64}[k]
	})
	require.NoError(t, err)
	require.Len(t, e.Temporal.PayloadKeys, 2)
	require.Equal(t, "k2", e.Temporal.PayloadKeys[0].ID())
	// Printing the environment, as a debugging line might, shows the ids and no key.
	for _, format := range []string{"%v", "%+v", "%#v"} {
		out := fmt.Sprintf(format, e)
		require.Contains(t, out, "k2")
		requireNoKeyMaterial(t, out)
	}

	_, err = config.LoadEnv(func(k string) string { return map[string]string{config.PayloadKeysEnv: "k1:short"}[k] })
	require.ErrorContains(t, err, "CRMSYNC_PAYLOAD_KEYS: entry 1")

	e, err = config.LoadEnv(func(string) string { return "" })
	require.NoError(t, err)
	require.Empty(t, e.Temporal.PayloadKeys)
}

func requireNoKeyMaterial(t *testing.T, text string) {
	t.Helper()
	for _, s := range []string{string(keyMaterial), keyB64, keyB64[:10], otherB64[:10], "0123456789abcdef", "fedcba9876543210"} {
		require.NotContains(t, text, s)
	}
	require.False(t, strings.Contains(text, "not*base64"), "the bad entry's text is echoed: %s", text)
}

func TestLoadEnvMetricsAddr(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		value   string
		want    string
		wantErr string
	}{
		{name: "default", value: "", want: config.DefaultMetricsAddr},
		{name: "set", value: "0.0.0.0:9100", want: "0.0.0.0:9100"},
		{name: "any port", value: ":9464", want: ":9464"},
		{name: "off", value: "OFF", want: ""},
		{name: "no port", value: "localhost", wantErr: `CRMSYNC_METRICS_ADDR: want host:port or off, got "localhost"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e, err := config.LoadEnv(func(name string) string {
				if name == "CRMSYNC_METRICS_ADDR" {
					return tc.value
				}
				return ""
			})
			if tc.wantErr != "" {
				require.EqualError(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, e.MetricsAddr)
		})
	}
}
