package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"go.temporal.io/sdk/client"

	"github.com/crmsync/crmsync/internal/config"
	"github.com/crmsync/crmsync/internal/crm"
	"github.com/crmsync/crmsync/internal/temporalclient"
	"github.com/crmsync/crmsync/workflows"
)

// labeler gives the workflows this command starts their memo and search attributes. The
// search attributes go only where the namespace has them registered (the worker registers
// them where it may): a start with an unknown one would be refused.
type labeler struct {
	cfg        *config.Config
	registered bool
}

// newLabeler checks the namespace once, and says on out (if not nil) what to register
// when the search attributes are missing.
func newLabeler(ctx context.Context, c client.Client, namespace string, cfg *config.Config, out io.Writer) *labeler {
	missing, err := temporalclient.MissingSearchAttributes(ctx, c, namespace)
	l := &labeler{cfg: cfg, registered: err == nil && len(missing) == 0}
	if out != nil && err == nil && len(missing) > 0 {
		fmt.Fprintf(out, "note: search attributes %s (Keyword) are not registered in namespace %s; start a worker, or add them "+
			"(Temporal Cloud: its UI or tcld), to filter syncs by them in the Web UI\n", strings.Join(missing, ", "), namespace)
	}
	return l
}

// of is the visibility of a sync of kind over obj of integration.
func (l *labeler) of(kind, integration string, obj crm.Object) workflows.Visibility {
	provider := "unknown"
	if l.cfg != nil {
		if in, err := l.cfg.Integration(integration); err == nil {
			provider = in.Provider
		}
	}
	v := workflows.VisibilityOf(kind, integration, provider, obj)
	if !l.registered {
		v.SearchAttributes = workflows.Visibility{}.SearchAttributes
	}
	return v
}

// withVisibility puts the visibility into start options.
func withVisibility(o *client.StartWorkflowOptions, v workflows.Visibility) {
	o.Memo, o.TypedSearchAttributes = v.Memo, v.SearchAttributes
}
