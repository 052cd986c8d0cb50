package crmsim

import (
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"
)

// assocBody decodes a v4 association batch read, keeping every field the spec names.
type assocBody struct {
	Status  string `json:"status"`
	Results []struct {
		From struct {
			ID string `json:"id"`
		} `json:"from"`
		To []struct {
			ToObjectID       string `json:"toObjectId"`
			AssociationTypes []struct {
				Category string  `json:"category"`
				TypeID   int     `json:"typeId"`
				Label    *string `json:"label"`
			} `json:"associationTypes"`
		} `json:"to"`
		Paging *struct {
			Next struct {
				After string `json:"after"`
			} `json:"next"`
		} `json:"paging"`
	} `json:"results"`
	NumErrors int `json:"numErrors"`
	Errors    []struct {
		Status      string              `json:"status"`
		Category    string              `json:"category"`
		SubCategory string              `json:"subCategory"`
		Message     string              `json:"message"`
		Context     map[string][]string `json:"context"`
	} `json:"errors"`
	StartedAt   string `json:"startedAt"`
	CompletedAt string `json:"completedAt"`
}

type assocInput struct {
	ID    string `json:"id"`
	After string `json:"after,omitempty"`
}

func readAssociations(t *testing.T, h *harness, path string, inputs ...assocInput) (response, assocBody) {
	t.Helper()
	r := h.post(t, path, map[string]any{"inputs": inputs})
	var b assocBody
	if r.status == http.StatusOK || r.status == http.StatusMultiStatus {
		require.NoError(t, json.Unmarshal(r.body, &b), "body: %s", r.body)
	}
	return r, b
}

func TestAssociationBatchReadHasHubSpotsShape(t *testing.T) {
	t.Parallel()
	h := setup(t, Options{Seed: 4, Contacts: 40, Companies: 10, Deals: 30})
	contacts, err := h.sim.Snapshot(Contacts)
	require.NoError(t, err)
	var with, without string
	for _, c := range contacts {
		if len(c.Associations[Companies]) > 0 && with == "" {
			with = c.ID
		}
	}
	require.NotEmpty(t, with)
	without = "999999"

	r, b := readAssociations(t, h, "/crm/v4/associations/contacts/companies/batch/read", assocInput{ID: with}, assocInput{ID: without})
	require.Equal(t, http.StatusMultiStatus, r.status, "a record without associations makes it a 207: %s", r.body)
	require.Equal(t, "COMPLETE", b.Status)
	require.NotEmpty(t, b.StartedAt)
	require.NotEmpty(t, b.CompletedAt)
	require.Len(t, b.Results, 1)
	res := b.Results[0]
	require.Equal(t, with, res.From.ID)
	require.Len(t, res.To, 1, "a seeded contact has one company")
	require.Nil(t, res.Paging)
	types := res.To[0].AssociationTypes
	require.Len(t, types, 2, "the primary company: Primary and the unlabeled default")
	require.Equal(t, "HUBSPOT_DEFINED", types[0].Category)
	require.Equal(t, 1, types[0].TypeID)
	require.Equal(t, "Primary", *types[0].Label)
	require.Equal(t, 279, types[1].TypeID)
	require.Nil(t, types[1].Label, "the unlabeled type's label is null")
	require.Contains(t, string(r.body), `"label":null`)

	require.Equal(t, 1, b.NumErrors)
	e := b.Errors[0]
	require.Equal(t, "error", e.Status)
	require.Equal(t, "OBJECT_NOT_FOUND", e.Category)
	require.Equal(t, "crm.associations.NO_ASSOCIATIONS_FOUND", e.SubCategory)
	require.Equal(t, "No company is associated with contact 999999.", e.Message)
	require.Equal(t, []string{without}, e.Context["fromObjectId"])

	// Singular names and object type ids name the same objects; the stats key is the pair's.
	r, _ = readAssociations(t, h, "/crm/v4/associations/0-1/company/batch/read", assocInput{ID: with})
	require.Equal(t, http.StatusOK, r.status)
	require.Equal(t, 2, h.sim.Calls("batch_associations contacts->companies"))

	r, _ = readAssociations(t, h, "/crm/v4/associations/contacts/tickets/batch/read", assocInput{ID: with})
	require.Equal(t, http.StatusBadRequest, r.status)
	require.Equal(t, 1, h.sim.Calls("batch_associations invalid"))
}

func TestAssociationTypesOfEachPair(t *testing.T) {
	t.Parallel()
	h := setup(t, Options{Seed: 5, Contacts: 40, Companies: 10, Deals: 30})
	deals, err := h.sim.Snapshot(Deals)
	require.NoError(t, err)
	var inputs []assocInput
	for _, d := range deals {
		inputs = append(inputs, assocInput{ID: d.ID})
	}
	for _, tc := range []struct {
		path      string
		unlabeled int
		primary   int
	}{
		{path: "/crm/v4/associations/deals/companies/batch/read", unlabeled: 341, primary: 5},
		{path: "/crm/v4/associations/deals/contacts/batch/read", unlabeled: 3},
	} {
		_, b := readAssociations(t, h, tc.path, inputs...)
		require.NotEmpty(t, b.Results, tc.path)
		for _, res := range b.Results {
			primaries := 0
			for _, to := range res.To {
				var ids []int
				for _, at := range to.AssociationTypes {
					ids = append(ids, at.TypeID)
				}
				require.Contains(t, ids, tc.unlabeled, "%s: every link has the unlabeled type", tc.path)
				if slices.Contains(ids, tc.primary) && tc.primary != 0 {
					primaries++
				}
			}
			if tc.primary != 0 {
				require.Equal(t, 1, primaries, "%s: deal %s has one primary company", tc.path, res.From.ID)
			}
		}
	}
}

func TestAssociationPagingAndLimits(t *testing.T) {
	t.Parallel()
	h := setup(t, Options{Seed: 6, Contacts: 60, Companies: 3, Deals: 5, AssociationPageSize: 4})
	companies, err := h.sim.Snapshot(Companies)
	require.NoError(t, err)
	var company string
	var want []string
	for _, c := range companies {
		if n := len(c.Associations[Contacts]); n > 9 && company == "" {
			company, want = c.ID, c.Associations[Contacts]
		}
	}
	require.NotEmpty(t, company, "a company with more contacts than two pages")

	var got []string
	in := assocInput{ID: company}
	for pages := 1; ; pages++ {
		r, b := readAssociations(t, h, "/crm/v4/associations/companies/contacts/batch/read", in)
		require.Equal(t, http.StatusOK, r.status, "body: %s", r.body)
		require.Len(t, b.Results, 1)
		require.LessOrEqual(t, len(b.Results[0].To), 4)
		for _, to := range b.Results[0].To {
			got = append(got, to.ToObjectID)
		}
		if b.Results[0].Paging == nil {
			require.Equal(t, (len(want)+3)/4, pages)
			break
		}
		in.After = b.Results[0].Paging.Next.After
	}
	require.Equal(t, want, got, "every contact once, in id order")

	r, _ := readAssociations(t, h, "/crm/v4/associations/companies/contacts/batch/read", assocInput{ID: company, After: "not base64!"})
	require.Equal(t, http.StatusBadRequest, r.status)

	inputs := make([]assocInput, 1001)
	for i := range inputs {
		inputs[i] = assocInput{ID: strconv.Itoa(i + 1)}
	}
	r, _ = readAssociations(t, h, "/crm/v4/associations/contacts/companies/batch/read", inputs...)
	require.Equal(t, http.StatusBadRequest, r.status)
	require.Contains(t, string(r.body), "Too many inputs: 1001. The maximum is 1000.")
	r, _ = readAssociations(t, h, "/crm/v4/associations/contacts/companies/batch/read", inputs[:1000]...)
	require.Equal(t, http.StatusMultiStatus, r.status, "1,000 inputs are allowed")
}

func TestAssociationReadsCountAgainstTheTenSecondWindow(t *testing.T) {
	t.Parallel()
	h := setup(t, Options{Contacts: 5, Companies: 2, TenSecondLimit: 3})
	for range 3 {
		r, _ := readAssociations(t, h, "/crm/v4/associations/contacts/companies/batch/read", assocInput{ID: "51"})
		require.NotEqual(t, http.StatusTooManyRequests, r.status)
		require.NotEmpty(t, r.header.Get("X-HubSpot-RateLimit-Remaining"))
	}
	r, _ := readAssociations(t, h, "/crm/v4/associations/contacts/companies/batch/read", assocInput{ID: "51"})
	requireRateLimitBody(t, r, "TEN_SECONDLY_ROLLING", "You have reached your ten_secondly_rolling limit.")
	require.Equal(t, 4, h.sim.Calls("batch_associations contacts->companies"))
}
