package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"time"
)

// Header names of HubSpot's v3 request signature.
const (
	// SignatureHeader carries base64(HMAC-SHA256(client secret, method+uri+body+timestamp)).
	SignatureHeader = "X-HubSpot-Signature-v3"
	// TimestampHeader carries the moment HubSpot signed the request, in epoch milliseconds.
	TimestampHeader = "X-HubSpot-Request-Timestamp"
)

// MaxSkew is how far a request's timestamp may be from our clock, either way. HubSpot's
// SDKs reject signatures older than five minutes; a timestamp as far in the future is
// refused too, or a captured request signed with a forged future time would stay
// replayable for as long as the attacker liked.
const MaxSkew = 5 * time.Minute

// Sentinel errors of Verify; the handler branches on them to count and answer.
var (
	// ErrMissingSignature means the signature or the timestamp header is absent.
	ErrMissingSignature = errors.New("missing webhook signature")
	// ErrBadSignature means the signature was not made with the secret over this request.
	ErrBadSignature = errors.New("webhook signature does not match")
	// ErrStale means the timestamp is not epoch milliseconds within MaxSkew of now.
	ErrStale = errors.New("webhook timestamp outside the accepted window")
)

// Verify checks a HubSpot v3 signature: that timestamp is within MaxSkew of now and that
// signature is base64(HMAC-SHA256(secret, method + uri + body + timestamp)), where uri is
// the full URL HubSpot posted to (scheme, host, path and query) with its percent-encoded
// characters decoded, as HubSpot decodes them before signing. The comparison takes the
// same time whatever the signature, so it leaks nothing of the expected one, and the
// errors name neither the secret nor the expected signature.
func Verify(secret, method, uri string, body []byte, timestamp, signature string, now time.Time) error {
	if signature == "" || timestamp == "" {
		return fmt.Errorf("verifying webhook: %s and %s are required: %w", SignatureHeader, TimestampHeader, ErrMissingSignature)
	}
	if err := checkFresh(timestamp, now); err != nil {
		return err
	}
	got, err := base64.StdEncoding.DecodeString(signature)
	if err != nil {
		return fmt.Errorf("verifying webhook: signature is not base64: %w", ErrBadSignature)
	}
	if !hmac.Equal(got, sign(secret, method, uri, body, timestamp)) {
		return fmt.Errorf("verifying webhook: %w", ErrBadSignature)
	}
	return nil
}

// checkFresh refuses a timestamp that is not epoch milliseconds within MaxSkew of now. It
// runs before any HMAC so that replays of old captures are told apart from forgeries in
// the counters.
func checkFresh(timestamp string, now time.Time) error {
	ms, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil {
		return fmt.Errorf("verifying webhook: timestamp is not epoch milliseconds: %w", ErrStale)
	}
	skew := now.Sub(time.UnixMilli(ms))
	if skew > MaxSkew || skew < -MaxSkew {
		return fmt.Errorf("verifying webhook: timestamp is %s from now: %w", skew.Round(time.Second), ErrStale)
	}
	return nil
}

// sign computes the raw v3 signature of a request.
func sign(secret, method, uri string, body []byte, timestamp string) []byte {
	// HubSpot hashes the URI with its escapes decoded; one it cannot decode it hashes as is.
	if decoded, err := url.PathUnescape(uri); err == nil {
		uri = decoded
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(method))
	mac.Write([]byte(uri))
	mac.Write(body)
	mac.Write([]byte(timestamp))
	return mac.Sum(nil)
}
