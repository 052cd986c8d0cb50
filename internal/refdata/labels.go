package refdata

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/crmsync/crmsync/internal/crm"
	"github.com/crmsync/crmsync/internal/store"
)

// Owner is how a record's owner is shown.
type Owner struct {
	// Name is the first and last name, "" when the CRM has neither.
	Name  string
	Email string
}

// Label is the owner's name, else their email: the rule the reference_owners view also
// applies, with the owner id as the last resort there and in OwnerDirectory.Label.
func (o Owner) Label() string {
	if o.Name != "" {
		return o.Name
	}
	return o.Email
}

// OwnerDirectory maps owner ids (what hubspot_owner_id holds) to owners.
type OwnerDirectory map[string]Owner

// Label is the label of the owner with the given id, which falls back to the id itself for
// an owner with neither name nor email; ok is false for an id the directory lacks.
func (d OwnerDirectory) Label(id string) (label string, ok bool) {
	o, ok := d[id]
	if !ok {
		return "", false
	}
	if l := o.Label(); l != "" {
		return l, true
	}
	return id, true
}

func newOwnerDirectory(owners []crm.Owner) OwnerDirectory {
	d := make(OwnerDirectory, len(owners))
	for _, o := range owners {
		// Trimming spaces only, as btrim does in the view, keeps the two labels identical.
		d[o.ID] = Owner{Name: strings.Trim(o.FirstName+" "+o.LastName, " "), Email: o.Email}
	}
	return d
}

// Pipeline is how a pipeline and its stages are shown.
type Pipeline struct {
	Label string
	// Stages maps stage ids (what dealstage holds) to their labels.
	Stages map[string]string
}

// PipelineDirectory maps pipeline ids (what a deal's pipeline property holds) to pipelines.
type PipelineDirectory map[string]Pipeline

// StageLabel is the label of a stage of a pipeline; ok is false when the directory does not
// have that stage in that pipeline.
func (d PipelineDirectory) StageLabel(pipelineID, stageID string) (label string, ok bool) {
	label, ok = d[pipelineID].Stages[stageID]
	return label, ok
}

func newPipelineDirectory(pipelines []crm.Pipeline) PipelineDirectory {
	d := make(PipelineDirectory, len(pipelines))
	for _, p := range pipelines {
		stages := make(map[string]string, len(p.Stages))
		for _, s := range p.Stages {
			stages[s.ID] = s.Label
		}
		d[p.ID] = Pipeline{Label: p.Label, Stages: stages}
	}
	return d
}

// Owners is the integration's owner directory, through the cache (see Get).
func (c *Cache) Owners(ctx context.Context, integration string) (OwnerDirectory, Info, error) {
	var owners []crm.Owner
	info, err := c.Get(ctx, integration, KindOwners, "", &owners)
	if err != nil {
		return nil, Info{}, err
	}
	return newOwnerDirectory(owners), info, nil
}

// Pipelines is the pipeline directory of an object type (deals), through the cache (see
// Get).
func (c *Cache) Pipelines(ctx context.Context, integration string, obj crm.Object) (PipelineDirectory, Info, error) {
	var pipelines []crm.Pipeline
	info, err := c.Get(ctx, integration, KindPipelines, obj, &pipelines)
	if err != nil {
		return nil, Info{}, err
	}
	return newPipelineDirectory(pipelines), info, nil
}

// Properties is an object type's property definitions, through the cache (see Get).
func (c *Cache) Properties(ctx context.Context, integration string, obj crm.Object) ([]crm.Property, Info, error) {
	var props []crm.Property
	info, err := c.Get(ctx, integration, KindProperties, obj, &props)
	if err != nil {
		return nil, Info{}, err
	}
	return props, info, nil
}

// Resolver turns the owner and stage ids records carry into labels from the cache. A
// look-up while the cached copy is fresh reads memory only; the directories are decoded
// once per copy, not once per record. It is safe for concurrent use.
type Resolver struct {
	cache *Cache

	mu        sync.Mutex
	owners    map[store.ReferenceKey]decoded[OwnerDirectory]
	pipelines map[store.ReferenceKey]decoded[PipelineDirectory]
}

// decoded is a directory with the copy it was decoded from.
type decoded[T any] struct {
	fetchedAt time.Time
	size      int
	dir       T
}

// NewResolver builds a resolver on the cache.
func NewResolver(c *Cache) *Resolver {
	return &Resolver{
		cache:     c,
		owners:    map[store.ReferenceKey]decoded[OwnerDirectory]{},
		pipelines: map[store.ReferenceKey]decoded[PipelineDirectory]{},
	}
}

// OwnerLabel is the label of the integration's owner ownerID (see OwnerDirectory.Label);
// ok is false when ownerID is empty or the cached owners do not include it.
func (r *Resolver) OwnerLabel(ctx context.Context, integration, ownerID string) (label string, ok bool, err error) {
	if ownerID == "" {
		return "", false, nil
	}
	dir, err := resolve(ctx, r, r.owners, integration, KindOwners, "", func(data []byte) (OwnerDirectory, error) {
		var owners []crm.Owner
		if err := json.Unmarshal(data, &owners); err != nil {
			return nil, err
		}
		return newOwnerDirectory(owners), nil
	})
	if err != nil {
		return "", false, err
	}
	label, ok = dir.Label(ownerID)
	return label, ok, nil
}

// StageLabel is the label of stage stageID of pipeline pipelineID of the integration's
// object type obj; ok is false when either id is empty or the cached pipelines do not have
// that stage in that pipeline.
func (r *Resolver) StageLabel(ctx context.Context, integration string, obj crm.Object, pipelineID, stageID string) (label string, ok bool, err error) {
	if pipelineID == "" || stageID == "" {
		return "", false, nil
	}
	dir, err := resolve(ctx, r, r.pipelines, integration, KindPipelines, obj, func(data []byte) (PipelineDirectory, error) {
		var pipelines []crm.Pipeline
		if err := json.Unmarshal(data, &pipelines); err != nil {
			return nil, err
		}
		return newPipelineDirectory(pipelines), nil
	})
	if err != nil {
		return "", false, err
	}
	label, ok = dir.StageLabel(pipelineID, stageID)
	return label, ok, nil
}

// resolve is the directory of a piece of reference data, decoded again only when the cache
// answers with a different copy.
func resolve[T any](ctx context.Context, r *Resolver, memo map[store.ReferenceKey]decoded[T], integration, kind string, obj crm.Object,
	decode func([]byte) (T, error)) (T, error) {
	var zero T
	data, info, err := r.cache.load(ctx, integration, kind, obj)
	if err != nil {
		return zero, err
	}
	k := key(integration, kind, obj)
	r.mu.Lock()
	d, ok := memo[k]
	r.mu.Unlock()
	if ok && d.fetchedAt.Equal(info.FetchedAt) && d.size == len(data) {
		return d.dir, nil
	}
	dir, err := decode(data)
	if err != nil {
		return zero, fmt.Errorf("decoding %s: %w", k, err)
	}
	r.mu.Lock()
	memo[k] = decoded[T]{fetchedAt: info.FetchedAt, size: len(data), dir: dir}
	r.mu.Unlock()
	return dir, nil
}
