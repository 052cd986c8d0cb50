package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/crmsync/crmsync/internal/config"
	"github.com/crmsync/crmsync/internal/payloadcrypt"
)

// codecAuthEnv names the variable that holds the codec server's bearer token.
const codecAuthEnv = "CRMSYNC_CODEC_AUTH_ENV"

// runCodecServer serves the Temporal codec protocol with the CRMSYNC_PAYLOAD_KEYS keys, so
// the Web UI and `temporal --codec-endpoint` show encrypted payloads to those who can reach it.
func runCodecServer(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("codec-server", flag.ContinueOnError)
	fs.SetOutput(out)
	listen := fs.String("listen", "127.0.0.1:8081", "address to listen on; keep it on loopback unless --auth-env is set")
	origin := fs.String("cors-origin", "", "the Temporal Web UI's origin whose pages may call the endpoint, e.g. http://localhost:8233; empty: only non-browser clients")
	authEnv := fs.String("auth-env", os.Getenv(codecAuthEnv),
		"name of the variable holding the bearer token every request must present ($"+codecAuthEnv+"); empty: no authentication")
	if err := fs.Parse(args); err != nil {
		return err
	}
	h, keys, err := newCodecHandler(os.Getenv, *origin, *authEnv)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return fmt.Errorf("codec-server: %w", err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 30 * time.Second, WriteTimeout: 30 * time.Second}
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
	}()
	fmt.Fprintf(out, "codec server listening on http://%s (keys %s; encrypting with %s)\n", ln.Addr(), strings.Join(keys, ", "), keys[0])
	if *authEnv == "" {
		if host, _, err := net.SplitHostPort(*listen); err == nil {
			if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
				fmt.Fprintf(out, "warning: no --auth-env: anyone who can reach %s can decrypt payloads\n", ln.Addr())
			}
		}
	}
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("codec-server: %w", err)
	}
	return nil
}

// newCodecHandler builds the endpoint from the environment: the keys, and the token held by
// the variable authEnv names. It returns the key ids, the encrypting one first.
func newCodecHandler(getenv func(string) string, origin, authEnv string) (http.Handler, []string, error) {
	keys, err := config.ParsePayloadKeys(getenv(config.PayloadKeysEnv))
	if err != nil {
		return nil, nil, err
	}
	if len(keys) == 0 {
		return nil, nil, fmt.Errorf("codec-server: %s is not set: no key to decrypt with", config.PayloadKeysEnv)
	}
	codec, err := payloadcrypt.NewCodec(keys...)
	if err != nil {
		return nil, nil, err
	}
	o := payloadcrypt.HandlerOptions{CORSOrigin: strings.TrimSuffix(origin, "/")}
	if o.CORSOrigin != "" {
		u, err := url.Parse(o.CORSOrigin)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Path != "" {
			return nil, nil, fmt.Errorf("codec-server: --cors-origin %q: want scheme://host[:port], e.g. http://localhost:8233", origin)
		}
	}
	if authEnv != "" {
		o.Token = strings.TrimSpace(getenv(authEnv))
		if o.Token == "" {
			return nil, nil, fmt.Errorf("codec-server: %s (the bearer token's variable, from --auth-env or %s) is empty", authEnv, codecAuthEnv)
		}
	}
	ids := make([]string, len(keys))
	for i, k := range keys {
		ids[i] = k.ID()
	}
	return payloadcrypt.NewHandler(codec, o), ids, nil
}
