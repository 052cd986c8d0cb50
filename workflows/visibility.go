package workflows

import (
	"fmt"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"

	"github.com/crmsync/crmsync/internal/crm"
)

// Search attributes crmsync sets when it starts a workflow, so that on-call engineers can
// filter syncs in the Web UI and the CLI:
// `temporal workflow list --query "CrmsyncIntegration='acme' AND CrmsyncKind='delta'"`.
// They are set by whoever starts the workflow (the starter, the schedules, the webhook
// receiver), never upserted from workflow code, so a namespace without them registered
// (a Temporal Cloud namespace nobody has set up yet) runs every workflow all the same.
var (
	SearchIntegration = temporal.NewSearchAttributeKeyKeyword("CrmsyncIntegration")
	SearchProvider    = temporal.NewSearchAttributeKeyKeyword("CrmsyncProvider")
	SearchObject      = temporal.NewSearchAttributeKeyKeyword("CrmsyncObject")
	SearchKind        = temporal.NewSearchAttributeKeyKeyword("CrmsyncKind")
)

// SearchAttributeTypes are the custom search attributes to register in a namespace.
func SearchAttributeTypes() map[string]enumspb.IndexedValueType {
	return map[string]enumspb.IndexedValueType{
		SearchIntegration.GetName(): enumspb.INDEXED_VALUE_TYPE_KEYWORD,
		SearchProvider.GetName():    enumspb.INDEXED_VALUE_TYPE_KEYWORD,
		SearchObject.GetName():      enumspb.INDEXED_VALUE_TYPE_KEYWORD,
		SearchKind.GetName():        enumspb.INDEXED_VALUE_TYPE_KEYWORD,
	}
}

// Kinds of sync, as the CrmsyncKind search attribute names them.
const (
	KindBackfill     = "backfill"
	KindDelta        = "delta"
	KindPushed       = "pushed"
	KindAssociations = "associations"
)

// Visibility is what a stream's workflow shows in the Web UI besides its id: a memo that
// says in words what it is, and the search attributes to filter it by.
type Visibility struct {
	Memo             map[string]any
	SearchAttributes temporal.SearchAttributes
}

// VisibilityOf describes a sync of kind over one object of an integration. object is the
// "from" side of an associations sync.
func VisibilityOf(kind, integration, provider string, object crm.Object) Visibility {
	return Visibility{
		Memo: map[string]any{"description": fmt.Sprintf("crmsync %s of %s %s (%s)", kind, integration, object, provider)},
		SearchAttributes: temporal.NewSearchAttributes(
			SearchIntegration.ValueSet(integration), SearchProvider.ValueSet(provider),
			SearchObject.ValueSet(string(object)), SearchKind.ValueSet(kind)),
	}
}
