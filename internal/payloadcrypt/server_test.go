package payloadcrypt_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/crmsync/crmsync/internal/payloadcrypt"
)

const webUI = "http://localhost:8233"

// setupServer serves a codec endpoint for one fresh key.
func setupServer(t *testing.T, o payloadcrypt.HandlerOptions) (*httptest.Server, *payloadcrypt.Codec) {
	t.Helper()
	c := newCodec(t, newKey(t, "k1", secret(t)))
	srv := httptest.NewServer(payloadcrypt.NewHandler(c, o))
	t.Cleanup(srv.Close)
	return srv, c
}

// post sends payloads to path as the Web UI does, returning the status and the body.
func post(t *testing.T, url string, headers map[string]string, payloads ...*commonpb.Payload) (int, []byte) {
	t.Helper()
	body, err := protojson.Marshal(&commonpb.Payloads{Payloads: payloads})
	require.NoError(t, err)
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, url, strings.NewReader(string(body)))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Namespace", "default")
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, b
}

func decodePayloads(t *testing.T, b []byte) []*commonpb.Payload {
	t.Helper()
	var ps commonpb.Payloads
	require.NoError(t, protojson.Unmarshal(b, &ps))
	return ps.Payloads
}

func TestHandlerRoundTrip(t *testing.T) {
	t.Parallel()
	srv, c := setupServer(t, payloadcrypt.HandlerOptions{})
	in := []*commonpb.Payload{plain(t, input{Integration: "acme", Object: "contacts"}), plain(t, 42)}

	status, body := post(t, srv.URL+"/encode", nil, in...)
	require.Equal(t, http.StatusOK, status, "%s", body)
	enc := decodePayloads(t, body)
	require.Len(t, enc, 2)
	require.Equal(t, payloadcrypt.EncodingEncrypted, string(enc[0].Metadata[converter.MetadataEncoding]))
	require.NotContains(t, string(body), "acme")

	status, body = post(t, srv.URL+"/decode", nil, enc...)
	require.Equal(t, http.StatusOK, status, "%s", body)
	dec := decodePayloads(t, body)
	for i := range in {
		require.True(t, proto.Equal(in[i], dec[i]), "payload %d", i)
	}

	// What a worker sealed, the endpoint opens; and the SDK's remote codec speaks to it.
	sealed, err := c.Encode(in)
	require.NoError(t, err)
	remote := converter.NewRemotePayloadCodec(converter.RemotePayloadCodecOptions{Endpoint: srv.URL})
	dec, err = remote.Decode(sealed)
	require.NoError(t, err)
	for i := range in {
		require.True(t, proto.Equal(in[i], dec[i]), "payload %d", i)
	}

	// A payload sealed with a key the endpoint lacks: 400 naming the key.
	other := newCodec(t, newKey(t, "k9", secret(t)))
	sealed, err = other.Encode(in[:1])
	require.NoError(t, err)
	status, body = post(t, srv.URL+"/decode", nil, sealed...)
	require.Equal(t, http.StatusBadRequest, status)
	require.Contains(t, string(body), `key "k9"`)

	status, _ = post(t, srv.URL+"/elsewhere", nil, in...)
	require.Equal(t, http.StatusNotFound, status)
}

func TestHandlerCORS(t *testing.T) {
	t.Parallel()
	srv, _ := setupServer(t, payloadcrypt.HandlerOptions{CORSOrigin: webUI, Token: "s3cret"})

	// The preflight carries no credentials and must succeed anyway.
	req, err := http.NewRequestWithContext(t.Context(), http.MethodOptions, srv.URL+"/decode", nil)
	require.NoError(t, err)
	req.Header.Set("Origin", webUI)
	req.Header.Set("Access-Control-Request-Method", "POST")
	req.Header.Set("Access-Control-Request-Headers", "content-type,x-namespace")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusNoContent, resp.StatusCode)
	require.Equal(t, webUI, resp.Header.Get("Access-Control-Allow-Origin"))
	require.Equal(t, "true", resp.Header.Get("Access-Control-Allow-Credentials"))
	require.Contains(t, resp.Header.Get("Access-Control-Allow-Methods"), "POST")
	for _, h := range []string{"X-Namespace", "Content-Type", "Authorization"} {
		require.Contains(t, resp.Header.Get("Access-Control-Allow-Headers"), h)
	}

	// The actual request carries the CORS headers too (here rejected, still readable by the UI).
	status, _ := post(t, srv.URL+"/decode", map[string]string{"Origin": webUI}, plain(t, 1))
	require.Equal(t, http.StatusUnauthorized, status)

	// Without a configured origin, no cross-origin access is granted.
	bare, _ := setupServer(t, payloadcrypt.HandlerOptions{})
	req, err = http.NewRequestWithContext(t.Context(), http.MethodOptions, bare.URL+"/decode", nil)
	require.NoError(t, err)
	req.Header.Set("Origin", webUI)
	resp, err = http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Empty(t, resp.Header.Get("Access-Control-Allow-Origin"))
}

func TestHandlerAuth(t *testing.T) {
	t.Parallel()
	srv, c := setupServer(t, payloadcrypt.HandlerOptions{Token: "s3cret-token"})
	sealed, err := c.Encode([]*commonpb.Payload{plain(t, input{Integration: "acme", Object: "deals"})})
	require.NoError(t, err)
	tests := []struct {
		name          string
		authorization string
		wantStatus    int
	}{
		{name: "no header", wantStatus: http.StatusUnauthorized},
		{name: "wrong token", authorization: "Bearer nope", wantStatus: http.StatusUnauthorized},
		{name: "token prefix", authorization: "Bearer s3cret", wantStatus: http.StatusUnauthorized},
		{name: "basic scheme", authorization: "Basic s3cret-token", wantStatus: http.StatusUnauthorized},
		{name: "right token", authorization: "Bearer s3cret-token", wantStatus: http.StatusOK},
		{name: "scheme case-insensitive", authorization: "bearer s3cret-token", wantStatus: http.StatusOK},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			headers := map[string]string{}
			if tc.authorization != "" {
				headers["Authorization"] = tc.authorization
			}
			status, body := post(t, srv.URL+"/decode", headers, sealed...)
			require.Equal(t, tc.wantStatus, status, "%s", body)
			if status != http.StatusOK {
				require.NotContains(t, string(body), "acme")
				return
			}
			var got input
			require.NoError(t, converter.GetDefaultDataConverter().FromPayload(decodePayloads(t, body)[0], &got))
			require.Equal(t, input{Integration: "acme", Object: "deals"}, got)
		})
	}

	// The CLI's --codec-auth sends the header value as given.
	remote := converter.NewRemotePayloadCodec(converter.RemotePayloadCodecOptions{Endpoint: srv.URL, ModifyRequest: func(r *http.Request) error {
		r.Header.Set("Authorization", "Bearer s3cret-token")
		return nil
	}})
	_, err = remote.Decode(sealed)
	require.NoError(t, err)
	_, err = converter.NewRemotePayloadCodec(converter.RemotePayloadCodecOptions{Endpoint: srv.URL}).Decode(sealed)
	require.ErrorContains(t, err, "Unauthorized")
}
