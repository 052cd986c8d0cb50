package hubspot

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/crmsync/crmsync/internal/crm"
)

var _ crm.Seeker = (*Client)(nil)

// HubSpot lists records in id order and documents `after` as an opaque token. Its tokens
// encode the position as an id: the spec's example "NTI1Cg%3D%3D" is base64("525\n"), and
// plain decimal ids are seen too. A codec names one such encoding, recognised on real
// pages only; seeking with it is then verified by the caller (a seeked page must start at
// or after the id it asked for).
const (
	codecDecimal = "decimal"       // "525"
	codecB64NL   = "base64nl"      // base64("525\n")
	codecB64NLQ  = "base64nl-qesc" // base64("525\n") with '=' percent-escaped
	codecB64     = "base64"        // base64("525")
	codecB64Q    = "base64-qesc"   // base64("525") with '=' percent-escaped
)

// decodeToken returns the id a token encodes and the codec it is in.
func decodeToken(token string) (codec string, id uint64, ok bool) {
	if v, err := strconv.ParseUint(token, 10, 64); err == nil {
		return codecDecimal, v, true
	}
	raw, escaped := token, false
	if strings.Contains(token, "%") {
		u, err := url.QueryUnescape(token)
		if err != nil {
			return "", 0, false
		}
		raw, escaped = u, true
	}
	b, err := base64.StdEncoding.DecodeString(raw)
	if err != nil {
		return "", 0, false
	}
	s, nl := strings.CutSuffix(string(b), "\n")
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return "", 0, false
	}
	switch {
	case nl && escaped:
		return codecB64NLQ, v, true
	case nl:
		return codecB64NL, v, true
	case escaped:
		return codecB64Q, v, true
	default:
		return codecB64, v, true
	}
}

// SeekCodec recognises a token that encodes an id between the previous page's last id and
// this page's first id (both inclusive).
func (c *Client) SeekCodec(token, prevLastID, firstID string) string {
	prev, err1 := strconv.ParseUint(prevLastID, 10, 64)
	first, err2 := strconv.ParseUint(firstID, 10, 64)
	if err1 != nil || err2 != nil {
		return ""
	}
	if codec, v, ok := decodeToken(token); ok && v >= prev && v <= first {
		return codec
	}
	return ""
}

// SeekToken encodes lo-1: a listing that starts after lo-1 (exclusive tokens) or at it
// (inclusive ones) covers every id from lo either way.
func (c *Client) SeekToken(codec, lo string) (string, error) {
	v, err := strconv.ParseUint(lo, 10, 64)
	if err != nil || v == 0 {
		return "", fmt.Errorf("hubspot: cannot seek to id %q", lo)
	}
	id := strconv.FormatUint(v-1, 10)
	switch codec {
	case codecDecimal:
		return id, nil
	case codecB64NL:
		return base64.StdEncoding.EncodeToString([]byte(id + "\n")), nil
	case codecB64NLQ:
		return strings.ReplaceAll(base64.StdEncoding.EncodeToString([]byte(id+"\n")), "=", "%3D"), nil
	case codecB64:
		return base64.StdEncoding.EncodeToString([]byte(id)), nil
	case codecB64Q:
		return strings.ReplaceAll(base64.StdEncoding.EncodeToString([]byte(id)), "=", "%3D"), nil
	default:
		return "", fmt.Errorf("hubspot: unknown listing token format %q", codec)
	}
}

// LastID reads the largest live id and how many live records there are, with one search
// call sorted by hs_object_id descending.
func (c *Client) LastID(ctx context.Context, obj crm.Object) (string, int, crm.RateLimit, error) {
	return c.oneID(ctx, obj, searchRequest{
		FilterGroups: []filterGroup{},
		Sorts:        []sort{{PropertyName: idProperty, Direction: "DESCENDING"}},
		Properties:   []string{idProperty},
		Limit:        1,
	})
}

// MaxNth is HubSpot's search window: results past 10,000 cannot be paged to.
func (c *Client) MaxNth() int { return 10_000 }

// NthID reads the id n places after `after` with one search call: filtered on
// hs_object_id > after, sorted by hs_object_id, one result at offset n.
func (c *Client) NthID(ctx context.Context, obj crm.Object, after string, n int) (string, int, crm.RateLimit, error) {
	if n < 0 || n >= c.MaxNth() {
		return "", 0, crm.RateLimit{}, fmt.Errorf("hubspot: offset %d outside the search window", n)
	}
	body := searchRequest{
		FilterGroups: []filterGroup{},
		Sorts:        []sort{{PropertyName: idProperty, Direction: "ASCENDING"}},
		Properties:   []string{idProperty},
		Limit:        1,
		After:        strconv.Itoa(n),
	}
	if after != "" {
		body.FilterGroups = []filterGroup{{Filters: []filter{{PropertyName: idProperty, Operator: "GT", Value: after}}}}
	}
	return c.oneID(ctx, obj, body)
}

// oneID runs a one-result search and returns its id ("" for none) and the total count.
func (c *Client) oneID(ctx context.Context, obj crm.Object, body searchRequest) (string, int, crm.RateLimit, error) {
	op, err := objectPath(obj)
	if err != nil {
		return "", 0, crm.RateLimit{}, err
	}
	endpoint := "POST /crm/v3/objects/" + op + "/search"
	var resp searchResponse
	_, rl, err := c.do(ctx, http.MethodPost, endpoint, "/crm/v3/objects/"+op+"/search", nil, body, &resp)
	if err != nil {
		return "", 0, rl, err
	}
	if len(resp.Results) == 0 {
		return "", resp.Total, rl, nil
	}
	if resp.Results[0].ID == "" {
		return "", 0, rl, &crm.APIError{Kind: crm.KindInvalid, Endpoint: endpoint, Category: "MALFORMED_RECORD", Message: "result has no id"}
	}
	return string(resp.Results[0].ID), resp.Total, rl, nil
}
