package workflows

import (
	"context"
	"errors"
	"strconv"
	"testing"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/crmsync/crmsync/activities"
	"github.com/crmsync/crmsync/internal/crm"
)

var dealsRef = activities.StreamRef{Integration: "acme", Object: crm.Deals}

func assocPage(after string) activities.AssociationsPageInput {
	return activities.AssociationsPageInput{Integration: "acme", From: crm.Deals, To: crm.Contacts, After: after}
}

func TestSyncAssociationsPagesThroughTheStoredRecords(t *testing.T) {
	t.Parallel()
	env := setup(t)
	env.RegisterWorkflow(SyncAssociations)
	env.OnActivity(a.Route, mock.Anything, dealsRef).Return(activities.Queues{}, nil).Once()
	var queues []string
	env.OnActivity(a.SyncAssociations, mock.Anything, assocPage("")).Return(
		func(ctx context.Context, _ activities.AssociationsPageInput) (activities.AssociationsPageResult, error) {
			queues = append(queues, activity.GetInfo(ctx).TaskQueue)
			return activities.AssociationsPageResult{Next: "8000", Records: 1000, Links: 2100, Calls: 1, Remaining: 97}, nil
		}).Once()
	env.OnActivity(a.SyncAssociations, mock.Anything, assocPage("8000")).Return(
		func(ctx context.Context, _ activities.AssociationsPageInput) (activities.AssociationsPageResult, error) {
			queues = append(queues, activity.GetInfo(ctx).TaskQueue)
			// Two records had more than a page of contacts: one further call for both.
			return activities.AssociationsPageResult{Next: "8420", Done: true, Records: 420, Links: 1900, Calls: 2, Remaining: 95}, nil
		}).Once()

	env.ExecuteWorkflow(SyncAssociations, AssociationsInput{Integration: "acme", From: crm.Deals, To: crm.Contacts})
	require.True(t, env.IsWorkflowCompleted())
	require.NoError(t, env.GetWorkflowError())
	var res AssociationsResult
	require.NoError(t, env.GetWorkflowResult(&res))
	require.Equal(t, int64(3), res.Calls)
	require.Equal(t, int64(2), res.Pages)
	require.Equal(t, int64(1420), res.Fetched, "records read")
	require.Equal(t, int64(4000), res.Written, "links stored")
	require.Equal(t, phaseDone, res.Phase)
	require.Equal(t, []string{APITaskQueue("acme"), APITaskQueue("acme")}, queues, "CRM calls run on the integration's API queue")

	v, err := env.QueryWorkflow(QueryProgress)
	require.NoError(t, err)
	var p Progress
	require.NoError(t, v.Get(&p))
	require.Equal(t, "associations", p.Kind)
	require.Equal(t, crm.Deals, p.Object)
	require.Equal(t, crm.Contacts, p.To)
	require.Equal(t, 95, p.Remaining)
}

func TestSyncAssociationsContinuesAsNewWithItsPosition(t *testing.T) {
	t.Parallel()
	env := setup(t)
	env.RegisterWorkflow(SyncAssociations)
	env.OnActivity(a.Route, mock.Anything, dealsRef).Return(activities.Queues{}, nil).Once()
	env.OnActivity(a.SyncAssociations, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.AssociationsPageInput) (activities.AssociationsPageResult, error) {
			n, _ := strconv.Atoi(in.After)
			return activities.AssociationsPageResult{Next: strconv.Itoa(n + 1000), Records: 1000, Links: 1000, Calls: 1}, nil
		}).Times(maxPagesPerRun)

	env.ExecuteWorkflow(SyncAssociations, AssociationsInput{Integration: "acme", From: crm.Deals, To: crm.Contacts})
	var can *workflow.ContinueAsNewError
	require.True(t, errors.As(env.GetWorkflowError(), &can), "want continue-as-new, got %v", env.GetWorkflowError())
	var next AssociationsInput
	require.NoError(t, converterDecode(can, &next))
	require.Equal(t, crm.Deals, next.From)
	require.Equal(t, crm.Contacts, next.To)
	require.NotNil(t, next.State)
	require.Equal(t, strconv.Itoa(maxPagesPerRun*1000), next.State.After)
	require.Equal(t, int64(maxPagesPerRun), next.State.Calls)
	require.NotNil(t, next.State.Queues, "the next run keeps the queues this one was routed to")
}

func TestSyncAssociationsContinuedRunSkipsTheRoute(t *testing.T) {
	t.Parallel()
	env := setup(t)
	env.RegisterWorkflow(SyncAssociations)
	env.OnActivity(a.SyncAssociations, mock.Anything, assocPage("9000")).
		Return(activities.AssociationsPageResult{Next: "9100", Done: true, Records: 100, Links: 90, Calls: 1}, nil).Once()
	st := &AssociationsState{After: "9000", Calls: 9, Queues: &activities.Queues{}, Progress: Progress{Kind: "associations", Pages: 9}}
	env.ExecuteWorkflow(SyncAssociations, AssociationsInput{Integration: "acme", From: crm.Deals, To: crm.Contacts, State: st})
	require.NoError(t, env.GetWorkflowError())
	var res AssociationsResult
	require.NoError(t, env.GetWorkflowResult(&res))
	require.Equal(t, int64(10), res.Calls)
	require.Equal(t, int64(10), res.Pages)
}

func TestSyncAssociationsStopsOnAPermanentError(t *testing.T) {
	t.Parallel()
	env := setup(t)
	env.RegisterWorkflow(SyncAssociations)
	env.OnActivity(a.Route, mock.Anything, dealsRef).Return(activities.Queues{}, nil).Once()
	env.OnActivity(a.SyncAssociations, mock.Anything, mock.Anything).Return(activities.AssociationsPageResult{},
		temporal.NewNonRetryableApplicationError("unauthorized", activities.ErrTypeUnauthorized, nil)).Once()
	env.ExecuteWorkflow(SyncAssociations, AssociationsInput{Integration: "acme", From: crm.Deals, To: crm.Contacts})
	var appErr *temporal.ApplicationError
	require.True(t, errors.As(env.GetWorkflowError(), &appErr))
	require.Equal(t, activities.ErrTypeUnauthorized, appErr.Type())
}

func TestSyncAssociationsRejectsAnUnsyncedPair(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   AssociationsInput
		want string
	}{
		{name: "no integration", in: AssociationsInput{From: crm.Deals, To: crm.Contacts}, want: `"integration" is required`},
		{name: "unknown from", in: AssociationsInput{Integration: "acme", From: "tickets", To: crm.Contacts}, want: `"from": unknown object type "tickets"`},
		{name: "unknown to", in: AssociationsInput{Integration: "acme", From: crm.Deals, To: "Contacts"}, want: `"to": unknown object type "Contacts"`},
		{name: "the other side of a synced pair", in: AssociationsInput{Integration: "acme", From: crm.Companies, To: crm.Contacts},
			want: "associations companies->contacts are not synced (want one of [contacts->companies deals->companies deals->contacts])"},
		{name: "an object with itself", in: AssociationsInput{Integration: "acme", From: crm.Deals, To: crm.Deals}, want: "deals->deals are not synced"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			env := setup(t)
			env.RegisterWorkflow(SyncAssociations)
			env.ExecuteWorkflow(SyncAssociations, tc.in)
			var appErr *temporal.ApplicationError
			require.True(t, errors.As(env.GetWorkflowError(), &appErr))
			require.True(t, appErr.NonRetryable())
			require.Equal(t, "InvalidInput", appErr.Type())
			require.Contains(t, appErr.Error(), tc.want)
		})
	}
}

func TestAssociationsID(t *testing.T) {
	t.Parallel()
	require.Equal(t, "crmsync/acme/deals-contacts/associations", AssociationsID("acme", crm.Deals, crm.Contacts))
	require.NotEqual(t, AssociationsID("acme", crm.Deals, crm.Contacts), AssociationsID("acme", crm.Deals, crm.Companies))
}
