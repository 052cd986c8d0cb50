package temporalclient

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/sdk/client"

	"github.com/crmsync/crmsync/workflows"
)

// EnsureSearchAttributes registers crmsync's search attributes in the namespace where
// they are missing. A dev server or a self-hosted cluster takes them from the worker; a
// Temporal Cloud namespace refuses (they are added in its UI or with tcld), and then the
// error says which to add.
func EnsureSearchAttributes(ctx context.Context, c client.Client, namespace string) error {
	missing, err := MissingSearchAttributes(ctx, c, namespace)
	if err != nil || len(missing) == 0 {
		return err
	}
	want := workflows.SearchAttributeTypes()
	add := map[string]enumspb.IndexedValueType{}
	for _, name := range missing {
		add[name] = want[name]
	}
	_, err = c.OperatorService().AddSearchAttributes(ctx, &operatorservice.AddSearchAttributesRequest{
		Namespace: namespace, SearchAttributes: add,
	})
	if err != nil {
		return fmt.Errorf("registering search attributes %s (Keyword) in namespace %s: %w", strings.Join(missing, ", "), namespace, err)
	}
	// The server takes a moment to show new search attributes; a start that names one
	// before then is refused, so wait for them (once per namespace, ever).
	for deadline := time.Now().Add(registerWait); ; {
		missing, err = MissingSearchAttributes(ctx, c, namespace)
		if err != nil || len(missing) == 0 || time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// registerWait bounds the wait for new search attributes to show.
const registerWait = 15 * time.Second

// MissingSearchAttributes lists crmsync's search attributes the namespace lacks.
func MissingSearchAttributes(ctx context.Context, c client.Client, namespace string) ([]string, error) {
	resp, err := c.OperatorService().ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: namespace})
	if err != nil {
		return nil, fmt.Errorf("listing the search attributes of namespace %s: %w", namespace, err)
	}
	var missing []string
	for _, name := range slices.Sorted(maps.Keys(workflows.SearchAttributeTypes())) {
		if _, ok := resp.GetCustomAttributes()[name]; !ok {
			missing = append(missing, name)
		}
	}
	return missing, nil
}
