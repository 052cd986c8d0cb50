package config

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"

	"github.com/crmsync/crmsync/internal/payloadcrypt"
)

// Env is the part of the configuration that differs per deployment and may hold secrets,
// read from the environment. The variable names are the Temporal CLI's, so one environment
// serves both crmsync and `temporal`.
type Env struct {
	// ConfigPath is CRMSYNC_CONFIG (default crmsync.yaml).
	ConfigPath string
	// DatabaseURL is DATABASE_URL.
	DatabaseURL string
	// TaskQueue is CRMSYNC_TASK_QUEUE (default "crmsync"): the queue crmsync's workflows
	// run on. Every worker and starter of one deployment must agree on it.
	TaskQueue string
	// SharedQueues is CRMSYNC_TASK_QUEUES=shared: every integration's CRM calls run on two
	// shared task queues (with the credential as fairness key) rather than two queues per
	// integration ("per-integration", the default). Every worker of a deployment must agree.
	SharedQueues bool
	// MetricsAddr is CRMSYNC_METRICS_ADDR (default 127.0.0.1:9464): where the worker serves
	// GET /metrics (Prometheus) and /healthz. Empty when set to "off".
	MetricsAddr string
	// Temporal is how to reach the Temporal server.
	Temporal Temporal
}

// Temporal holds the Temporal connection settings.
type Temporal struct {
	// Address is TEMPORAL_ADDRESS (default localhost:7233).
	Address string
	// Namespace is TEMPORAL_NAMESPACE (default "default").
	Namespace string
	// APIKey is TEMPORAL_API_KEY (Temporal Cloud); setting it turns TLS on.
	APIKey string
	// TLS is TEMPORAL_TLS=true, or implied by any TLS file or the API key.
	TLS bool
	// ClientCertPath and ClientKeyPath are TEMPORAL_TLS_CLIENT_CERT_PATH and
	// TEMPORAL_TLS_CLIENT_KEY_PATH (mTLS).
	ClientCertPath, ClientKeyPath string
	// ServerCACertPath is TEMPORAL_TLS_SERVER_CA_CERT_PATH, for servers with a private CA.
	ServerCACertPath string
	// ServerName is TEMPORAL_TLS_SERVER_NAME, when it differs from the address's host.
	ServerName string
	// PayloadKeys is CRMSYNC_PAYLOAD_KEYS: when set, every payload crmsync writes to
	// Temporal is encrypted with the first key, and read with whichever key it names.
	// Every worker and starter of a deployment must hold the keys its histories use.
	PayloadKeys []payloadcrypt.Key
}

// Default environment values: the machine-local services the demo and tests use.
const (
	DefaultConfigPath  = "crmsync.yaml"
	DefaultDatabaseURL = "postgres://postgres@127.0.0.1:5432/crmsync?sslmode=disable"
	DefaultTaskQueue   = "crmsync"
	DefaultAddress     = "localhost:7233"
	DefaultNamespace   = "default"
	DefaultMetricsAddr = "127.0.0.1:9464"
)

// PayloadKeysEnv is the variable holding the payload encryption keys: comma-separated
// id:key entries, each key 32 bytes in standard base64, the first the one that encrypts,
// e.g. "k2:<base64>,k1:<base64>".
const PayloadKeysEnv = "CRMSYNC_PAYLOAD_KEYS"

// LoadEnv reads the environment through getenv (os.Getenv in production).
func LoadEnv(getenv func(string) string) (Env, error) {
	get := func(name, def string) string {
		if v := strings.TrimSpace(getenv(name)); v != "" {
			return v
		}
		return def
	}
	e := Env{
		ConfigPath:  get("CRMSYNC_CONFIG", DefaultConfigPath),
		DatabaseURL: get("DATABASE_URL", DefaultDatabaseURL),
		TaskQueue:   get("CRMSYNC_TASK_QUEUE", DefaultTaskQueue),
		MetricsAddr: get("CRMSYNC_METRICS_ADDR", DefaultMetricsAddr),
		Temporal: Temporal{
			Address:          get("TEMPORAL_ADDRESS", DefaultAddress),
			Namespace:        get("TEMPORAL_NAMESPACE", DefaultNamespace),
			APIKey:           get("TEMPORAL_API_KEY", ""),
			ClientCertPath:   get("TEMPORAL_TLS_CLIENT_CERT_PATH", ""),
			ClientKeyPath:    get("TEMPORAL_TLS_CLIENT_KEY_PATH", ""),
			ServerCACertPath: get("TEMPORAL_TLS_SERVER_CA_CERT_PATH", ""),
			ServerName:       get("TEMPORAL_TLS_SERVER_NAME", ""),
		},
	}
	switch v := strings.ToLower(get("CRMSYNC_TASK_QUEUES", "per-integration")); v {
	case "per-integration":
	case "shared":
		e.SharedQueues = true
	default:
		return Env{}, fmt.Errorf("CRMSYNC_TASK_QUEUES: want per-integration or shared, got %q", v)
	}
	if strings.EqualFold(e.MetricsAddr, "off") {
		e.MetricsAddr = ""
	} else if _, _, err := net.SplitHostPort(e.MetricsAddr); err != nil {
		return Env{}, fmt.Errorf("CRMSYNC_METRICS_ADDR: want host:port or off, got %q", e.MetricsAddr)
	}
	switch v := strings.ToLower(get("TEMPORAL_TLS", "")); v {
	case "", "false", "0":
	case "true", "1":
		e.Temporal.TLS = true
	default:
		return Env{}, fmt.Errorf("TEMPORAL_TLS: want true or false, got %q", v)
	}
	t := &e.Temporal
	var err error
	if t.PayloadKeys, err = ParsePayloadKeys(getenv(PayloadKeysEnv)); err != nil {
		return Env{}, err
	}
	if t.APIKey != "" || t.ClientCertPath != "" || t.ServerCACertPath != "" {
		t.TLS = true
	}
	if (t.ClientCertPath == "") != (t.ClientKeyPath == "") {
		return Env{}, errors.New("TEMPORAL_TLS_CLIENT_CERT_PATH and TEMPORAL_TLS_CLIENT_KEY_PATH must be set together")
	}
	return e, nil
}

// TLSConfig builds the client TLS configuration, or nil when TLS is off.
func (t Temporal) TLSConfig() (*tls.Config, error) {
	if !t.TLS {
		return nil, nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: t.ServerName}
	if t.ClientCertPath != "" {
		cert, err := tls.LoadX509KeyPair(t.ClientCertPath, t.ClientKeyPath)
		if err != nil {
			return nil, fmt.Errorf("TEMPORAL_TLS_CLIENT_CERT_PATH / _KEY_PATH: %w", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	if t.ServerCACertPath != "" {
		pem, err := os.ReadFile(t.ServerCACertPath)
		if err != nil {
			return nil, fmt.Errorf("TEMPORAL_TLS_SERVER_CA_CERT_PATH: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("TEMPORAL_TLS_SERVER_CA_CERT_PATH: %s holds no PEM certificate", t.ServerCACertPath)
		}
		cfg.RootCAs = pool
	}
	return cfg, nil
}

// ParsePayloadKeys parses the value of CRMSYNC_PAYLOAD_KEYS (see PayloadKeysEnv); an empty
// value is no keys: payloads are not encrypted. Errors name the variable, the entry (from 1)
// and its id, never the key.
func ParsePayloadKeys(v string) ([]payloadcrypt.Key, error) {
	if strings.TrimSpace(v) == "" {
		return nil, nil
	}
	entries := strings.Split(v, ",")
	keys := make([]payloadcrypt.Key, 0, len(entries))
	seen := map[string]int{}
	for i, entry := range entries {
		n := i + 1
		id, b64, ok := strings.Cut(strings.TrimSpace(entry), ":")
		id, b64 = strings.TrimSpace(id), strings.TrimSpace(b64)
		switch {
		case strings.TrimSpace(entry) == "":
			return nil, fmt.Errorf("%s: entry %d is empty; want id:base64-key entries separated by commas", PayloadKeysEnv, n)
		case !ok || id == "":
			return nil, fmt.Errorf("%s: entry %d: want id:base64-key", PayloadKeysEnv, n)
		case b64 == "":
			return nil, fmt.Errorf("%s: entry %d (key id %q): the key is empty", PayloadKeysEnv, n, id)
		}
		if first, dup := seen[id]; dup {
			return nil, fmt.Errorf("%s: entry %d: key id %q is also entry %d", PayloadKeysEnv, n, id, first)
		}
		seen[id] = n
		secret, err := base64.StdEncoding.DecodeString(b64)
		if err != nil {
			// The decoder's error names only an offset; still, keep it out, so no message
			// can ever hint at the key.
			return nil, fmt.Errorf("%s: entry %d (key id %q): the key is not standard base64", PayloadKeysEnv, n, id)
		}
		if len(secret) != payloadcrypt.KeySize {
			return nil, fmt.Errorf("%s: entry %d (key id %q): the key is %d bytes, want %d (head -c 32 /dev/urandom | base64)",
				PayloadKeysEnv, n, id, len(secret), payloadcrypt.KeySize)
		}
		k, err := payloadcrypt.NewKey(id, secret)
		if err != nil {
			return nil, fmt.Errorf("%s: entry %d: %w", PayloadKeysEnv, n, err)
		}
		keys = append(keys, k)
	}
	return keys, nil
}
