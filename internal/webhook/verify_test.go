package webhook_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crmsync/crmsync/internal/webhook"
)

// officialBody is the example delivery of HubSpot's request-validation docs.
const officialBody = `[{"eventId":1,"subscriptionId":12345,"portalId":62515,"occurredAt":1564113600000,"subscriptionType":"contact.creation","attemptNumber":0,"objectId":123,"changeSource":"CRM","changeFlag":"NEW","appId":54321}]`

// signature is the documented algorithm, written out independently of the package:
// base64(HMAC-SHA256(secret, method + uri + body + timestamp)), uri already decoded.
func signature(secret, method, decodedURI, body, timestamp string) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(method + decodedURI + body + timestamp))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

func ms(t time.Time) string { return strconv.FormatInt(t.UnixMilli(), 10) }

func TestVerifyKnownVector(t *testing.T) {
	t.Parallel()
	// Computed with: printf '%s' 'POSThttps://www.example.com/webhook_uri<officialBody>1564113600000' |
	//   openssl dgst -sha256 -hmac 'yyyyyyyy-yyyy-yyyy-yyyy-yyyyyyyyyyyy' -binary | base64
	const want = "DxmVAjFNa2xfF3YgQjdZP6TNcok9k1oaH7UXombPtvw="
	signedAt := time.UnixMilli(1564113600000)
	err := webhook.Verify("yyyyyyyy-yyyy-yyyy-yyyy-yyyyyyyyyyyy", "POST", "https://www.example.com/webhook_uri",
		[]byte(officialBody), "1564113600000", want, signedAt.Add(time.Minute))
	require.NoError(t, err)
	require.Equal(t, want, signature("yyyyyyyy-yyyy-yyyy-yyyy-yyyyyyyyyyyy", "POST", "https://www.example.com/webhook_uri",
		officialBody, "1564113600000"), "the test's own signer agrees with openssl")
}

func TestVerify(t *testing.T) {
	t.Parallel()
	const (
		secret = "client-secret-1"
		uri    = "https://sync.example.com/webhooks/hubspot?portal=62515"
	)
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	ts := ms(now.Add(-time.Minute))
	good := signature(secret, "POST", uri, officialBody, ts)

	tests := []struct {
		name      string
		secret    string
		method    string
		uri       string
		body      string
		timestamp string
		signature string
		wantErr   error
	}{
		{name: "valid", signature: good},
		{name: "wrong secret", signature: signature("another-secret", "POST", uri, officialBody, ts), wantErr: webhook.ErrBadSignature},
		{name: "tampered body", body: `[{"eventId":2}]`, signature: good, wantErr: webhook.ErrBadSignature},
		{name: "tampered timestamp", timestamp: ms(now.Add(-2 * time.Minute)), signature: good, wantErr: webhook.ErrBadSignature},
		{name: "other method", method: "PUT", signature: good, wantErr: webhook.ErrBadSignature},
		{name: "other uri", uri: "https://sync.example.com/webhooks/hubspot?portal=1", signature: good, wantErr: webhook.ErrBadSignature},
		{name: "signature not base64", signature: "not base64!", wantErr: webhook.ErrBadSignature},
		{name: "missing signature", signature: "", wantErr: webhook.ErrMissingSignature},
		{name: "missing timestamp", timestamp: "-", signature: good, wantErr: webhook.ErrMissingSignature},
		{name: "timestamp not a number", timestamp: "yesterday", signature: good, wantErr: webhook.ErrStale},
		{
			name:      "six minutes old",
			timestamp: ms(now.Add(-6 * time.Minute)),
			signature: signature(secret, "POST", uri, officialBody, ms(now.Add(-6*time.Minute))),
			wantErr:   webhook.ErrStale,
		},
		{
			name:      "six minutes in the future",
			timestamp: ms(now.Add(6 * time.Minute)),
			signature: signature(secret, "POST", uri, officialBody, ms(now.Add(6*time.Minute))),
			wantErr:   webhook.ErrStale,
		},
		{
			name:      "exactly five minutes old is still fresh",
			timestamp: ms(now.Add(-5 * time.Minute)),
			signature: signature(secret, "POST", uri, officialBody, ms(now.Add(-5*time.Minute))),
		},
		{
			name:      "percent-encoded characters are decoded before signing",
			uri:       "https://sync.example.com/webhooks/hubspot?name=caf%C3%A9&tag=a%2Fb%20c",
			signature: signature(secret, "POST", "https://sync.example.com/webhooks/hubspot?name=café&tag=a/b c", officialBody, ts),
		},
		{
			name:      "the encoded form is not what is signed",
			uri:       "https://sync.example.com/webhooks/hubspot?name=caf%C3%A9",
			signature: signature(secret, "POST", "https://sync.example.com/webhooks/hubspot?name=caf%C3%A9", officialBody, ts),
			wantErr:   webhook.ErrBadSignature,
		},
		{
			name:      "an undecodable uri is signed as is",
			uri:       "https://sync.example.com/webhooks/hubspot?q=100%zz",
			signature: signature(secret, "POST", "https://sync.example.com/webhooks/hubspot?q=100%zz", officialBody, ts),
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, method, u, body, timestamp := secret, "POST", uri, officialBody, ts
			if tc.secret != "" {
				s = tc.secret
			}
			if tc.method != "" {
				method = tc.method
			}
			if tc.uri != "" {
				u = tc.uri
			}
			if tc.body != "" {
				body = tc.body
			}
			switch tc.timestamp {
			case "":
			case "-":
				timestamp = ""
			default:
				timestamp = tc.timestamp
			}
			err := webhook.Verify(s, method, u, []byte(body), timestamp, tc.signature, now)
			if tc.wantErr == nil {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, tc.wantErr)
			require.NotContains(t, err.Error(), secret)
			require.NotContains(t, err.Error(), good)
		})
	}
}
