package crm

import (
	"fmt"
	"mime"
	"net/http"
	"strconv"
	"strings"
)

// DescribeBody says, for an error message, what a response body that could not be used
// was: its content type and, for an HTML page (a proxy's error page), its title, else the
// start of the body, cut short and stripped of control characters. It never quotes more
// than 120 characters of the body.
func DescribeBody(contentType string, raw []byte) string {
	if len(raw) == 0 {
		return "empty body"
	}
	ct := contentType
	if ct == "" {
		ct = "no content type"
	}
	ct = Truncate(Printable(ct), 60)
	s := string(raw)
	// Search a copy lowered byte for byte: strings.ToLower can change the length (invalid
	// UTF-8 becomes U+FFFD), and its offsets would then not index s.
	low := asciiLower(s)
	if i := strings.Index(low, "<title>"); i >= 0 {
		start := i + len("<title>")
		if j := strings.Index(low[start:], "</title>"); j >= 0 {
			return fmt.Sprintf("%s page %q", ct, Truncate(Printable(strings.TrimSpace(s[start:start+j])), 120))
		}
	}
	return fmt.Sprintf("%s body %q", ct, Truncate(Printable(s), 120))
}

// ContainsFold reports whether s contains the ASCII word sub, ignoring the case of ASCII
// letters only.
func ContainsFold(s, sub string) bool {
	return strings.Contains(asciiLower(s), asciiLower(sub))
}

// asciiLower lowers ASCII letters and leaves every other byte, so offsets stay valid.
func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// Printable replaces control characters with spaces, so that text a CRM sent cannot
// break a log line or a terminal.
func Printable(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
}

// Truncate cuts s to at most n bytes, on a rune boundary, marking the cut with "…".
func Truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && n < len(s) && (s[n]&0xC0) == 0x80 {
		n--
	}
	return s[:n] + "…"
}

// HeaderInt reads a header holding a count (a rate-limit figure); absent, malformed and
// negative values read as not there.
func HeaderInt(h http.Header, name string) (int, bool) {
	v := strings.TrimSpace(h.Get(name))
	if v == "" {
		return 0, false
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0, false
	}
	return n, true
}

// IsJSON reports whether a Content-Type names JSON (application/json or a +json type),
// which is what a CRM's error bodies are parsed as; anything else (a proxy's HTML page) is
// only described.
func IsJSON(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return false
	}
	return mt == "application/json" || strings.HasSuffix(mt, "+json")
}
