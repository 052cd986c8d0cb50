package refdata_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/crmsync/crmsync/internal/crm"
	"github.com/crmsync/crmsync/internal/refdata"
	"github.com/crmsync/crmsync/internal/store"
)

func TestResolverLabels(t *testing.T) {
	t.Parallel()
	e := setup(t)
	r := refdata.NewResolver(e.cache)

	owners := []struct {
		name, id  string
		wantLabel string
		wantOK    bool
	}{
		{name: "first and last name", id: "1", wantLabel: "Ada Lovelace", wantOK: true},
		{name: "email without a name", id: "2", wantLabel: "bob@example.com", wantOK: true},
		{name: "neither: the id", id: "3", wantLabel: "3", wantOK: true},
		{name: "unknown owner", id: "4"},
		{name: "no owner", id: ""},
	}
	stages := []struct {
		name            string
		pipeline, stage string
		wantLabel       string
		wantOK          bool
	}{
		{name: "default pipeline", pipeline: "default", stage: "closedwon", wantLabel: "Closed Won", wantOK: true},
		{name: "custom pipeline", pipeline: "77", stage: "101", wantLabel: "Negotiation", wantOK: true},
		{name: "stage of another pipeline", pipeline: "default", stage: "101"},
		{name: "unknown pipeline", pipeline: "78", stage: "101"},
		{name: "no pipeline", pipeline: "", stage: "closedwon"},
		{name: "no stage", pipeline: "default", stage: ""},
	}
	for round := range 2 {
		for _, tc := range owners {
			label, ok, err := r.OwnerLabel(t.Context(), integ, tc.id)
			require.NoError(t, err, tc.name)
			require.Equal(t, tc.wantLabel, label, tc.name)
			require.Equal(t, tc.wantOK, ok, tc.name)
		}
		for _, tc := range stages {
			label, ok, err := r.StageLabel(t.Context(), integ, crm.Deals, tc.pipeline, tc.stage)
			require.NoError(t, err, tc.name)
			require.Equal(t, tc.wantLabel, label, tc.name)
			require.Equal(t, tc.wantOK, ok, tc.name)
		}
		require.Equal(t, 1, e.fetch.count(refdata.KindOwners), "round %d: one fetch, then the cache", round)
		require.Equal(t, 1, e.fetch.count(refdata.KindPipelines), "round %d: one fetch, then the cache", round)
	}
	// Empty ids look nothing up: 4 owner and 4 stage look-ups per round, the first two misses.
	require.Equal(t, refdata.Stats{Hits: 2*(4+4) - 2, Misses: 2, Refreshes: 2, FetcherCalls: 2}, e.cache.Stats())

	// A stale directory is refreshed through the cache, once, and the new labels are used.
	e.fetch.set(func(f *fetcher) { f.owners, f.pipelines = ownersRenamed(), pipelines("Won") })
	e.clock.Advance(time.Hour)
	for range 3 {
		label, ok, err := r.OwnerLabel(t.Context(), integ, "1")
		require.NoError(t, err)
		require.True(t, ok)
		require.Equal(t, "Ada King", label)
		label, ok, err = r.StageLabel(t.Context(), integ, crm.Deals, "default", "closedwon")
		require.NoError(t, err)
		require.True(t, ok)
		require.Equal(t, "Won", label)
	}
	require.Equal(t, 2, e.fetch.count(refdata.KindOwners))
	require.Equal(t, 2, e.fetch.count(refdata.KindPipelines))
}

func ownersRenamed() []crm.Owner {
	o := owners("Ada")
	o[0].LastName = "King"
	return o
}

func TestTypedDirectories(t *testing.T) {
	t.Parallel()
	e := setup(t)
	dir, info, err := e.cache.Owners(t.Context(), integ)
	require.NoError(t, err)
	require.True(t, info.Refreshed)
	require.Equal(t, refdata.OwnerDirectory{
		"1": {Name: "Ada Lovelace", Email: "ada@example.com"},
		"2": {Email: "bob@example.com"},
		"3": {},
	}, dir)

	pipes, _, err := e.cache.Pipelines(t.Context(), integ, crm.Deals)
	require.NoError(t, err)
	require.Equal(t, refdata.PipelineDirectory{
		"default": {Label: "Sales", Stages: map[string]string{"appointmentscheduled": "Appointment Scheduled", "closedwon": "Closed Won"}},
		"77":      {Label: "Renewals", Stages: map[string]string{"101": "Negotiation"}},
	}, pipes)

	props, _, err := e.cache.Properties(t.Context(), integ, crm.Contacts)
	require.NoError(t, err)
	require.Equal(t, []crm.Property{{Name: "email", Label: "Email", Type: "string"}}, props)

	// The shapes stored are the crm types' JSON, which the activities (properties) and the
	// views of migration 0005 read.
	var stored []crm.Property
	_, found, err := e.store.GetReference(t.Context(), integ, store.RefProperties, crm.Contacts, &stored)
	require.NoError(t, err)
	require.True(t, found)
	require.Equal(t, props, stored)
}

// labeledRow is a row of the records_labeled view; nil is NULL.
type labeledRow struct {
	Integration, Object, ID          string
	OwnerLabel, PipelineLabel, Stage *string
}

func ptr(s string) *string { return &s }

func TestRecordsLabeledView(t *testing.T) {
	t.Parallel()
	e := setup(t)
	// Owner 1 twice, as a shifted page boundary can return it: the later copy wins, and the
	// view still gives each record one row.
	e.fetch.set(func(f *fetcher) { f.owners = append(owners("Old"), ownersRenamed()[0]) })
	_, _, err := e.cache.Owners(t.Context(), integ)
	require.NoError(t, err)
	_, _, err = e.cache.Pipelines(t.Context(), integ, crm.Deals)
	require.NoError(t, err)

	write := func(integration string, obj crm.Object, id, props string) {
		t.Helper()
		_, err := e.store.WritePage(t.Context(), store.PageWrite{
			Key:     store.StreamKey{Integration: integration, Object: obj, Stream: store.StreamDelta},
			Records: []crm.Record{{ID: id, CreatedAt: t0, UpdatedAt: t0, Properties: json.RawMessage(props)}},
		})
		require.NoError(t, err)
	}
	write(integ, crm.Contacts, "c1", `{"hubspot_owner_id": "1"}`)
	write(integ, crm.Contacts, "c2", `{"hubspot_owner_id": "4"}`)
	write(integ, crm.Contacts, "c3", `{"email": "x@example.com"}`)
	write(integ, crm.Companies, "co1", `{"hubspot_owner_id": "2"}`)
	write(integ, crm.Deals, "d1", `{"hubspot_owner_id": "3", "pipeline": "default", "dealstage": "closedwon"}`)
	write(integ, crm.Deals, "d2", `{"pipeline": "77", "dealstage": "101"}`)
	write(integ, crm.Deals, "d3", `{"pipeline": "default", "dealstage": "101"}`)
	write(integ, crm.Deals, "d4", `{"pipeline": "", "dealstage": ""}`)
	// Another integration's ids are not resolved against acme's owners.
	write("other", crm.Contacts, "c1", `{"hubspot_owner_id": "1"}`)

	rows, err := e.store.Pool().Query(t.Context(), `SELECT integration, object_type, crm_id, owner_label, pipeline_label, stage_label
		FROM records_labeled ORDER BY integration, object_type, crm_id`)
	require.NoError(t, err)
	var got []labeledRow
	for rows.Next() {
		var r labeledRow
		require.NoError(t, rows.Scan(&r.Integration, &r.Object, &r.ID, &r.OwnerLabel, &r.PipelineLabel, &r.Stage))
		got = append(got, r)
	}
	require.NoError(t, rows.Err())
	require.Equal(t, []labeledRow{
		{Integration: integ, Object: "companies", ID: "co1", OwnerLabel: ptr("bob@example.com")},
		{Integration: integ, Object: "contacts", ID: "c1", OwnerLabel: ptr("Ada King")},
		{Integration: integ, Object: "contacts", ID: "c2"},
		{Integration: integ, Object: "contacts", ID: "c3"},
		{Integration: integ, Object: "deals", ID: "d1", OwnerLabel: ptr("3"), PipelineLabel: ptr("Sales"), Stage: ptr("Closed Won")},
		{Integration: integ, Object: "deals", ID: "d2", PipelineLabel: ptr("Renewals"), Stage: ptr("Negotiation")},
		{Integration: integ, Object: "deals", ID: "d3", PipelineLabel: ptr("Sales")},
		{Integration: integ, Object: "deals", ID: "d4"},
		{Integration: "other", Object: "contacts", ID: "c1"},
	}, got)

	// The view and the Resolver agree.
	r := refdata.NewResolver(e.cache)
	for _, row := range got[:8] {
		var props struct {
			Owner    string `json:"hubspot_owner_id"`
			Pipeline string `json:"pipeline"`
			Stage    string `json:"dealstage"`
		}
		require.NoError(t, e.store.Pool().QueryRow(t.Context(), `SELECT properties FROM records
			WHERE integration = $1 AND object_type = $2 AND crm_id = $3`, row.Integration, row.Object, row.ID).Scan(&props))
		label, ok, err := r.OwnerLabel(t.Context(), integ, props.Owner)
		require.NoError(t, err)
		require.Equal(t, row.OwnerLabel != nil, ok, row.ID)
		if ok {
			require.Equal(t, *row.OwnerLabel, label, row.ID)
		}
		label, ok, err = r.StageLabel(t.Context(), integ, crm.Object(row.Object), props.Pipeline, props.Stage)
		require.NoError(t, err)
		require.Equal(t, row.Stage != nil, ok, row.ID)
		if ok {
			require.Equal(t, *row.Stage, label, row.ID)
		}
	}
}
