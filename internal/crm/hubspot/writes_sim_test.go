package hubspot_test

import (
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crmsync/crmsync/internal/crm"
	"github.com/crmsync/crmsync/internal/crmsim"
)

// TestWritesAgainstTheSimulator: the connector and the simulator agree on the batch write
// shapes, and an injected write fault is an input the connector retries, so a writer that
// resends what failed applies every input exactly once.
func TestWritesAgainstTheSimulator(t *testing.T) {
	t.Parallel()
	sim, c := setup(t, crmsim.Options{Seed: 71, Contacts: 20, WriteFaults: crmsim.WriteFaults{Every: 4}})
	ins := make([]crm.WriteInput, 10)
	for i := range ins {
		ins[i] = crm.WriteInput{TraceID: "t" + strconv.Itoa(i), ID: "w" + strconv.Itoa(i) + "@example.com", IDProperty: "email",
			Properties: map[string]string{"firstname": "W" + strconv.Itoa(i)}}
	}
	ins[9].Properties["lifecyclestage"] = "not-a-stage"

	pending := ins
	written := map[string]crm.Written{}
	for round := 0; len(pending) > 0; round++ {
		require.Less(t, round, 5, "retries converge")
		res, err := c.Upsert(t.Context(), crm.Contacts, pending)
		require.NoError(t, err)
		var again []crm.WriteInput
		for _, w := range res.Written {
			written[w.TraceID] = w
		}
		for _, f := range res.Failed {
			if f.TraceID == "t9" {
				require.Equal(t, "VALIDATION_ERROR", f.Category)
				require.Contains(t, f.Message, "INVALID_OPTION")
				require.False(t, f.Retryable)
				continue
			}
			require.Equal(t, crmsim.DefaultWriteFaultCategory, f.Category)
			require.True(t, f.Retryable)
			for _, in := range pending {
				if in.TraceID == f.TraceID {
					again = append(again, in)
				}
			}
		}
		require.Equal(t, len(pending), len(res.Written)+len(res.Failed), "every input is accounted for")
		pending = again
	}
	require.Len(t, written, 9)
	for _, w := range written {
		require.True(t, w.Created)
	}
	st := sim.WriteStats()
	require.Equal(t, 9, st.Applied)
	require.Zero(t, st.Duplicates)
	require.Positive(t, st.InjectedFaults)

	// Read back by email, then update by id: the new values are there.
	page, err := c.BatchRead(t.Context(), crm.BatchReadRequest{Object: crm.Contacts, IDs: []string{"W3@example.com"},
		IDProperty: "email", Properties: []string{"firstname"}})
	require.NoError(t, err)
	require.Len(t, page.Records, 1)
	require.Equal(t, written["t3"].ID, page.Records[0].ID)
	require.NoError(t, sim.SetWriteFaults(crmsim.WriteFaults{}))
	res, err := c.Update(t.Context(), crm.Contacts, []crm.WriteInput{
		{TraceID: "u1", ID: written["t3"].ID, Properties: map[string]string{"jobtitle": "Pilot"}},
		{TraceID: "u2", ID: "987654321", Properties: map[string]string{"jobtitle": "Ghost"}},
	})
	require.NoError(t, err)
	require.Equal(t, []crm.Written{{TraceID: "u1", ID: written["t3"].ID}}, res.Written)
	require.Len(t, res.Failed, 1)
	require.Equal(t, crm.ItemError{TraceID: "u2", Category: "OBJECT_NOT_FOUND", Retryable: false,
		Message: "Could not get some CONTACT objects, they may be deleted or not exist. Check that ids are valid."}, res.Failed[0])
	created, err := c.Create(t.Context(), crm.Companies, []crm.WriteInput{{TraceID: "c1", Properties: map[string]string{"name": "Acme"}}})
	require.NoError(t, err)
	require.Len(t, created.Written, 1)
	require.True(t, created.Written[0].Created)
	require.Equal(t, 1, sim.Stats().Calls("batch_create companies"))
}
