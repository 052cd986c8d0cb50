// Package payloadcrypt encrypts Temporal payloads at rest: a converter.PayloadCodec that
// seals each payload with AES-256-GCM under the current key and opens it with whichever key
// its metadata names, so keys can rotate; and the HTTP codec endpoint through which the
// Temporal Web UI and CLI show the payloads to those who hold a key.
package payloadcrypt

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"
	"google.golang.org/protobuf/proto"
)

// Metadata of an encrypted payload. The encoding value and key are those of the Temporal
// samples' encryption codec, so tools that know that convention recognise ours.
const (
	// EncodingEncrypted is the "encoding" metadata value of a payload this codec sealed.
	EncodingEncrypted = "binary/encrypted"
	// MetadataKeyID is the metadata key naming the key a payload was sealed with.
	MetadataKeyID = "encryption-key-id"
)

// KeySize is the length of a key's secret: AES-256.
const KeySize = 32

// ErrUnknownKey is returned (wrapped) when a payload names a key the codec does not hold.
var ErrUnknownKey = errors.New("unknown payload key")

// Key is one named AES-256 key. Its secret is held only inside the cipher; formatting a Key
// prints its id, never the secret.
type Key struct {
	id   string
	aead cipher.AEAD
}

// NewKey makes a key from its id (recorded in every payload it seals) and its 32-byte secret.
func NewKey(id string, secret []byte) (Key, error) {
	if id == "" {
		return Key{}, errors.New("payload key: empty id")
	}
	for _, r := range id {
		if r <= ' ' || r == 0x7f || r == ',' || r == ':' {
			return Key{}, fmt.Errorf("payload key %q: the id may not hold spaces, control characters, ',' or ':'", id)
		}
	}
	if len(secret) != KeySize {
		return Key{}, fmt.Errorf("payload key %q: the key is %d bytes, want %d", id, len(secret), KeySize)
	}
	block, err := aes.NewCipher(secret)
	if err != nil {
		return Key{}, fmt.Errorf("payload key %q: %w", id, err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return Key{}, fmt.Errorf("payload key %q: %w", id, err)
	}
	return Key{id: id, aead: aead}, nil
}

// ID is the key's id.
func (k Key) ID() string { return k.id }

// String names the key without its secret.
func (k Key) String() string { return "payload key " + k.id }

// GoString names the key without its secret, also for %#v.
func (k Key) GoString() string { return fmt.Sprintf("payloadcrypt.Key{id: %q}", k.id) }

// Codec is a converter.PayloadCodec that encrypts every payload with its current key and
// decrypts with any of its keys. Payloads it did not encrypt pass through Decode unchanged,
// so histories written before encryption was turned on stay readable.
type Codec struct {
	current Key
	keys    map[string]Key
}

var _ converter.PayloadCodec = (*Codec)(nil)

// NewCodec makes a codec that encrypts with the first key and decrypts with any of them.
func NewCodec(keys ...Key) (*Codec, error) {
	if len(keys) == 0 {
		return nil, errors.New("payload codec: no keys")
	}
	c := &Codec{current: keys[0], keys: make(map[string]Key, len(keys))}
	for _, k := range keys {
		if k.aead == nil {
			return nil, errors.New("payload codec: a key not made by NewKey")
		}
		if _, dup := c.keys[k.id]; dup {
			return nil, fmt.Errorf("payload codec: key id %q appears twice", k.id)
		}
		c.keys[k.id] = k
	}
	return c, nil
}

// KeyID is the id of the key the codec encrypts with.
func (c *Codec) KeyID() string { return c.current.id }

// String names the codec's current key without any secret.
func (c Codec) String() string { return "payload codec encrypting with key " + c.current.id }

// GoString is String, also for %#v.
func (c Codec) GoString() string { return c.String() }

// NewDataConverter is the SDK's default data converter with the codec applied to every
// payload it produces and reads.
func NewDataConverter(c *Codec) converter.DataConverter {
	return converter.NewCodecDataConverter(converter.GetDefaultDataConverter(), c)
}

// Encode implements converter.PayloadCodec: each payload is marshalled whole (metadata and
// data) and sealed under the current key with a random nonce; the key id is also the
// additional data, so a payload relabelled with another key's id does not open.
func (c *Codec) Encode(payloads []*commonpb.Payload) ([]*commonpb.Payload, error) {
	k := c.current
	out := make([]*commonpb.Payload, len(payloads))
	for i, p := range payloads {
		plain, err := proto.Marshal(p)
		if err != nil {
			return nil, fmt.Errorf("encrypting payload with key %q: %w", k.id, err)
		}
		nonce := make([]byte, k.aead.NonceSize(), k.aead.NonceSize()+len(plain)+k.aead.Overhead())
		if _, err := rand.Read(nonce); err != nil {
			return nil, fmt.Errorf("encrypting payload with key %q: %w", k.id, err)
		}
		out[i] = &commonpb.Payload{
			Metadata: map[string][]byte{
				converter.MetadataEncoding: []byte(EncodingEncrypted),
				MetadataKeyID:              []byte(k.id),
			},
			Data: k.aead.Seal(nonce, nonce, plain, []byte(k.id)),
		}
	}
	return out, nil
}

// Decode implements converter.PayloadCodec: payloads this codec encrypted are opened with
// the key their metadata names; any other payload is returned as it is.
func (c *Codec) Decode(payloads []*commonpb.Payload) ([]*commonpb.Payload, error) {
	out := make([]*commonpb.Payload, len(payloads))
	for i, p := range payloads {
		if string(p.GetMetadata()[converter.MetadataEncoding]) != EncodingEncrypted {
			out[i] = p
			continue
		}
		id := string(p.GetMetadata()[MetadataKeyID])
		if id == "" {
			return nil, fmt.Errorf("decrypting payload: its metadata names no key (%s)", MetadataKeyID)
		}
		k, ok := c.keys[id]
		if !ok {
			return nil, fmt.Errorf("decrypting payload: key %q: %w", id, ErrUnknownKey)
		}
		data := p.GetData()
		n := k.aead.NonceSize()
		if len(data) < n+k.aead.Overhead() {
			return nil, fmt.Errorf("decrypting payload with key %q: ciphertext too short", id)
		}
		plain, err := k.aead.Open(nil, data[:n], data[n:], []byte(id))
		if err != nil {
			return nil, fmt.Errorf("decrypting payload with key %q: corrupt, tampered with or sealed with another key of that id: %w", id, err)
		}
		var orig commonpb.Payload
		if err := proto.Unmarshal(plain, &orig); err != nil {
			return nil, fmt.Errorf("decrypting payload with key %q: %w", id, err)
		}
		out[i] = &orig
	}
	return out, nil
}
