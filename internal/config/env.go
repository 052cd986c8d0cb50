package config

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"strings"
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
}

// Default environment values: the machine-local services the demo and tests use.
const (
	DefaultConfigPath  = "crmsync.yaml"
	DefaultDatabaseURL = "postgres://postgres@127.0.0.1:5432/crmsync?sslmode=disable"
	DefaultTaskQueue   = "crmsync"
	DefaultAddress     = "localhost:7233"
	DefaultNamespace   = "default"
)

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
	switch v := strings.ToLower(get("TEMPORAL_TLS", "")); v {
	case "", "false", "0":
	case "true", "1":
		e.Temporal.TLS = true
	default:
		return Env{}, fmt.Errorf("TEMPORAL_TLS: want true or false, got %q", v)
	}
	t := &e.Temporal
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
