package workflows

import (
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/crmsync/crmsync/activities"
	"github.com/crmsync/crmsync/internal/crm"
)

// AssociationsID is the workflow id of the associations sync of one direction: one id per
// pair, so two syncs of the same links never run at once.
func AssociationsID(integration string, from, to crm.Object) string {
	return fmt.Sprintf("crmsync/%s/%s-%s/associations", integration, from, to)
}

// AssociationsInput starts the sync of one direction's associations:
// `{"integration":"acme","from":"deals","to":"contacts"}`. The pair is one of
// crm.AssociationPairs: contacts->companies, deals->companies, deals->contacts.
type AssociationsInput struct {
	Integration string     `json:"integration"`
	From        crm.Object `json:"from"`
	To          crm.Object `json:"to"`
	// State carries progress across continue-as-new; leave it out when starting.
	State *AssociationsState `json:"state,omitempty"`
}

// AssociationsState is everything an associations sync needs to continue in a new run.
type AssociationsState struct {
	// After is the last record id whose associations are stored.
	After string `json:"after"`
	// Calls counts the CRM calls made.
	Calls    int64    `json:"calls"`
	Progress Progress `json:"progress"`
	// Queues says where the CRM calls run; nil until the first run has asked.
	Queues *activities.Queues `json:"queues,omitempty"`
}

// AssociationsResult summarises a finished associations sync: Pages, Fetched and Written
// count the pages of records, the records and the links stored.
type AssociationsResult struct {
	Progress
	// Calls counts the CRM calls made: one per page of records, plus the further pages of
	// records with more associations than one page holds.
	Calls      int64     `json:"calls"`
	FinishedAt time.Time `json:"finished_at"`
}

// phaseAssociations is an associations sync reading pages.
const phaseAssociations = "associations"

// SyncAssociations stores every association of one direction (contacts->companies, say) of
// the records backfilled into PostgreSQL: page by page of stored record ids, each page one
// batch call to the CRM and one replacement of the page's stored links, so links removed
// in the CRM disappear. It reads what the backfill stored, so it runs after the backfill of
// the From object.
func SyncAssociations(ctx workflow.Context, in AssociationsInput) (AssociationsResult, error) {
	if err := validateAssociations(in); err != nil {
		return AssociationsResult{}, err
	}
	st := in.State
	if st == nil {
		st = &AssociationsState{Progress: Progress{Kind: "associations", Phase: phaseStarting, Integration: in.Integration,
			Object: in.From, To: in.To, Remaining: -1, StartedAt: workflow.Now(ctx)}}
	}
	p := &st.Progress
	api, err := watchedOnAPI(ctx, p, activities.StreamRef{Integration: in.Integration, Object: in.From}, &st.Queues)
	if err != nil {
		return AssociationsResult{}, err
	}
	p.Phase = phaseAssociations
	for pages := 0; ; pages++ {
		if runIsFull(ctx, pages) {
			return AssociationsResult{}, workflow.NewContinueAsNewError(ctx, SyncAssociations, AssociationsInput{
				Integration: in.Integration, From: in.From, To: in.To, State: st})
		}
		var r activities.AssociationsPageResult
		err := callCRM(ctx, api, p, a.SyncAssociations, activities.AssociationsPageInput{
			Integration: in.Integration, From: in.From, To: in.To, After: st.After}, &r)
		if err != nil {
			return AssociationsResult{}, err
		}
		st.After = r.Next
		st.Calls += int64(r.Calls)
		p.page(ctx, activities.PageResult{Fetched: r.Records, Written: r.Links, Remaining: r.Remaining})
		if r.Done {
			p.Phase = phaseDone
			return AssociationsResult{Progress: *p, Calls: st.Calls, FinishedAt: workflow.Now(ctx)}, nil
		}
	}
}

// validateAssociations rejects inputs that name no stream or a direction crmsync does not
// sync, before any activity runs.
func validateAssociations(in AssociationsInput) error {
	for _, f := range []struct {
		name string
		obj  crm.Object
	}{{"from", in.From}, {"to", in.To}} {
		if _, err := crm.ParseObject(string(f.obj)); err != nil {
			return temporal.NewNonRetryableApplicationError(fmt.Sprintf("input: %q: %v", f.name, err), "InvalidInput", nil)
		}
	}
	if err := validateRef(in.Integration, in.From); err != nil {
		return err
	}
	if pair := (crm.AssociationPair{From: in.From, To: in.To}); !pair.Supported() {
		return temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("input: associations %s are not synced (want one of %v)", pair, crm.AssociationPairs), "InvalidInput", nil)
	}
	return nil
}
