package payloadcrypt_test

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"
	"google.golang.org/protobuf/proto"

	"github.com/crmsync/crmsync/internal/payloadcrypt"
)

// secret is a random 32-byte key secret.
func secret(t *testing.T) []byte {
	t.Helper()
	b := make([]byte, payloadcrypt.KeySize)
	_, err := rand.Read(b)
	require.NoError(t, err)
	return b
}

func newKey(t *testing.T, id string, s []byte) payloadcrypt.Key {
	t.Helper()
	k, err := payloadcrypt.NewKey(id, s)
	require.NoError(t, err)
	return k
}

func newCodec(t *testing.T, keys ...payloadcrypt.Key) *payloadcrypt.Codec {
	t.Helper()
	c, err := payloadcrypt.NewCodec(keys...)
	require.NoError(t, err)
	return c
}

// plain is what the default data converter makes of a workflow input.
func plain(t *testing.T, v any) *commonpb.Payload {
	t.Helper()
	p, err := converter.GetDefaultDataConverter().ToPayload(v)
	require.NoError(t, err)
	return p
}

type input struct {
	Integration string
	Object      string
}

func TestRoundTrip(t *testing.T) {
	t.Parallel()
	c := newCodec(t, newKey(t, "k1", secret(t)))
	in := []*commonpb.Payload{plain(t, input{Integration: "acme-hubspot", Object: "contacts"}), plain(t, nil), plain(t, []byte{})}

	enc, err := c.Encode(in)
	require.NoError(t, err)
	require.Len(t, enc, len(in))
	for _, p := range enc {
		require.Equal(t, payloadcrypt.EncodingEncrypted, string(p.Metadata[converter.MetadataEncoding]))
		require.Equal(t, "k1", string(p.Metadata[payloadcrypt.MetadataKeyID]))
		require.NotContains(t, string(p.Data), "acme-hubspot")
		require.NotContains(t, string(p.Data), "json/plain")
	}
	// A random nonce per payload: the same input never seals to the same bytes.
	again, err := c.Encode(in[:1])
	require.NoError(t, err)
	require.NotEqual(t, enc[0].Data, again[0].Data)

	dec, err := c.Decode(enc)
	require.NoError(t, err)
	require.Len(t, dec, len(in))
	for i := range in {
		require.True(t, proto.Equal(in[i], dec[i]), "payload %d: got %v, want %v", i, dec[i], in[i])
	}

	// Through the data converter, as the SDK uses it.
	dc := payloadcrypt.NewDataConverter(c)
	p, err := dc.ToPayload(input{Integration: "acme-hubspot", Object: "deals"})
	require.NoError(t, err)
	require.Equal(t, payloadcrypt.EncodingEncrypted, string(p.Metadata[converter.MetadataEncoding]))
	var got input
	require.NoError(t, dc.FromPayload(p, &got))
	require.Equal(t, input{Integration: "acme-hubspot", Object: "deals"}, got)
}

func TestRotation(t *testing.T) {
	t.Parallel()
	k1, k2 := newKey(t, "k1", secret(t)), newKey(t, "k2", secret(t))
	old := newCodec(t, k1)
	sealedWithK1, err := old.Encode([]*commonpb.Payload{plain(t, "before rotation")})
	require.NoError(t, err)

	// The new key first: it encrypts; the old one still decrypts what it sealed.
	rotated := newCodec(t, k2, k1)
	require.Equal(t, "k2", rotated.KeyID())
	sealedWithK2, err := rotated.Encode([]*commonpb.Payload{plain(t, "after rotation")})
	require.NoError(t, err)
	require.Equal(t, "k2", string(sealedWithK2[0].Metadata[payloadcrypt.MetadataKeyID]))

	dec, err := rotated.Decode(append(sealedWithK1, sealedWithK2...))
	require.NoError(t, err)
	require.True(t, proto.Equal(plain(t, "before rotation"), dec[0]))
	require.True(t, proto.Equal(plain(t, "after rotation"), dec[1]))

	// Once k1 is dropped, what it sealed no longer opens, and the error says which key is missing.
	_, err = newCodec(t, k2).Decode(sealedWithK1)
	require.ErrorIs(t, err, payloadcrypt.ErrUnknownKey)
	require.ErrorContains(t, err, `"k1"`)
}

func TestDecodeRejects(t *testing.T) {
	t.Parallel()
	s := secret(t)
	c := newCodec(t, newKey(t, "k1", s))
	sealed := func() *commonpb.Payload {
		enc, err := c.Encode([]*commonpb.Payload{plain(t, input{Integration: "acme", Object: "contacts"})})
		require.NoError(t, err)
		return enc[0]
	}
	tests := []struct {
		name    string
		tamper  func(p *commonpb.Payload)
		codec   *payloadcrypt.Codec
		wantErr string
	}{
		{name: "flipped ciphertext bit", tamper: func(p *commonpb.Payload) { p.Data[len(p.Data)/2] ^= 1 }, wantErr: `key "k1": corrupt, tampered with`},
		{name: "flipped nonce bit", tamper: func(p *commonpb.Payload) { p.Data[0] ^= 1 }, wantErr: `key "k1": corrupt`},
		{name: "truncated", tamper: func(p *commonpb.Payload) { p.Data = p.Data[:10] }, wantErr: `key "k1": ciphertext too short`},
		{name: "unknown key id", tamper: func(p *commonpb.Payload) { p.Metadata[payloadcrypt.MetadataKeyID] = []byte("k9") }, wantErr: `key "k9": unknown payload key`},
		{name: "no key id", tamper: func(p *commonpb.Payload) { delete(p.Metadata, payloadcrypt.MetadataKeyID) }, wantErr: "names no key"},
		{
			name: "relabelled with another key's id", codec: newCodec(t, newKey(t, "k1", s), newKey(t, "k2", s)),
			tamper: func(p *commonpb.Payload) { p.Metadata[payloadcrypt.MetadataKeyID] = []byte("k2") }, wantErr: `key "k2": corrupt`,
		},
		{name: "another key of the same id", codec: newCodec(t, newKey(t, "k1", secret(t))), tamper: func(*commonpb.Payload) {}, wantErr: `key "k1": corrupt`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := sealed()
			tc.tamper(p)
			dec := c
			if tc.codec != nil {
				dec = tc.codec
			}
			_, err := dec.Decode([]*commonpb.Payload{p})
			require.ErrorContains(t, err, tc.wantErr)
			requireNoSecret(t, err.Error(), s)
		})
	}
}

func TestDecodePassesUnencryptedPayloadsThrough(t *testing.T) {
	t.Parallel()
	c := newCodec(t, newKey(t, "k1", secret(t)))
	old := []*commonpb.Payload{
		plain(t, input{Integration: "acme", Object: "contacts"}),
		plain(t, nil),
		{Metadata: map[string][]byte{converter.MetadataEncoding: []byte("binary/protobuf")}, Data: []byte{1, 2, 3}},
		{},
	}
	sealed, err := c.Encode([]*commonpb.Payload{plain(t, "new")})
	require.NoError(t, err)
	dec, err := c.Decode(append(old, sealed[0]))
	require.NoError(t, err)
	for i, p := range old {
		require.Same(t, p, dec[i])
	}
	require.True(t, proto.Equal(plain(t, "new"), dec[len(old)]))
}

func TestNewKeyAndCodecErrors(t *testing.T) {
	t.Parallel()
	s := secret(t)
	tests := []struct {
		name    string
		id      string
		secret  []byte
		wantErr string
	}{
		{name: "short", id: "k1", secret: s[:16], wantErr: `payload key "k1": the key is 16 bytes, want 32`},
		{name: "long", id: "k1", secret: append(bytes.Clone(s), 0), wantErr: "33 bytes, want 32"},
		{name: "empty id", id: "", secret: s, wantErr: "empty id"},
		{name: "id with a colon", id: "a:b", secret: s, wantErr: "may not hold"},
		{name: "id with a space", id: "a b", secret: s, wantErr: "may not hold"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := payloadcrypt.NewKey(tc.id, tc.secret)
			require.ErrorContains(t, err, tc.wantErr)
			requireNoSecret(t, err.Error(), s)
		})
	}

	_, err := payloadcrypt.NewCodec()
	require.ErrorContains(t, err, "no keys")
	_, err = payloadcrypt.NewCodec(newKey(t, "k1", s), newKey(t, "k1", secret(t)))
	require.ErrorContains(t, err, `key id "k1" appears twice`)
	requireNoSecret(t, err.Error(), s)
	_, err = payloadcrypt.NewCodec(payloadcrypt.Key{})
	require.ErrorContains(t, err, "not made by NewKey")
}

func TestFormattingHidesTheSecret(t *testing.T) {
	t.Parallel()
	s := secret(t)
	k := newKey(t, "k1", s)
	c := newCodec(t, k)
	for _, format := range []string{"%v", "%+v", "%#v", "%s"} {
		for _, v := range []any{k, c, *c, []payloadcrypt.Key{k}, struct{ Keys []payloadcrypt.Key }{[]payloadcrypt.Key{k}}} {
			out := fmt.Sprintf(format, v)
			require.Contains(t, out, "k1", "%s of %T", format, v)
			requireNoSecret(t, out, s)
		}
	}
}

// requireNoSecret fails if text holds the secret in any usual spelling.
func requireNoSecret(t *testing.T, text string, s []byte) {
	t.Helper()
	for _, spelling := range []string{string(s), base64.StdEncoding.EncodeToString(s), base64.RawStdEncoding.EncodeToString(s),
		hex.EncodeToString(s), strings.Trim(fmt.Sprintf("%d", s[:8]), "[]")} {
		require.NotContains(t, text, spelling)
	}
}
