package crm_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crmsync/crmsync/internal/crm"
)

func TestDescribeBodyNamesWhatCameBack(t *testing.T) {
	t.Parallel()
	require.Equal(t, "empty body", crm.DescribeBody("text/html", nil))
	require.Equal(t, `text/html page "502 Bad Gateway"`,
		crm.DescribeBody("text/html", []byte("<html><HEAD><TITLE> 502 Bad Gateway </TITLE></HEAD></html>")))
	require.Equal(t, `no content type body "a b"`, crm.DescribeBody("", []byte("a\nb")))
	// Invalid UTF-8 before the title must not shift the offsets the title is cut at.
	require.Equal(t, `text/html page "Oops"`, crm.DescribeBody("text/html", []byte("\xff\xfe<title>Oops</title>")))
	long := crm.DescribeBody("application/json", []byte(strings.Repeat("é", 200)))
	require.True(t, strings.HasSuffix(long, `…"`))
	require.Less(t, len(long), 160)
	require.True(t, crm.ContainsFold("Daily API token budget EXCEEDED", "daily"))
	require.Equal(t, "ab…", crm.Truncate("abcdef", 2))
	require.Equal(t, "é…", crm.Truncate("éé", 3), "cut on a rune boundary")
}
