package crm

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
)

// Merged properties survive any key and value the CRM sent: they decode to what went in.
func TestEncodePropsKeepsEveryKeyAndValue(t *testing.T) {
	t.Parallel()
	in := map[string]json.RawMessage{
		"plain": json.RawMessage(`"v"`), `quo"te`: json.RawMessage(`1.5`), "back\\slash": json.RawMessage(`null`),
		"Zürich": json.RawMessage(`{"a":[1,2]}`), "<tag>&": json.RawMessage(`true`), "ctl\x01": json.RawMessage(`"\u00e9"`),
		"empty": nil,
	}
	b, err := encodeProps(in)
	require.NoError(t, err)
	var out map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(b, &out), string(b))
	require.Len(t, out, len(in))
	for k, v := range in {
		if v == nil {
			v = json.RawMessage("null")
		}
		require.JSONEq(t, string(v), string(out[k]), k)
	}
}
