package workflows

import (
	"go.temporal.io/sdk/workflow"

	"github.com/crmsync/crmsync/activities"
	"github.com/crmsync/crmsync/internal/crm"
)

// The planner that backfills used before versionPlanByLastID. A backfill that was planning
// when its worker was upgraded replays through this code, so it must not change.

// coarseRanges is how many ranges the planner finds by rank before lanes split them
// further by their measured density: rank lookups go through the CRM's search, which is
// slow (HubSpot: 5 a second), and a rolling window rewards a fast start (every later
// window replays the first one's pace).
const coarseRanges = 6

// planRangesByRank splits the listing into up to coarseRanges ranges holding equal numbers of
// records (none under minRangeRecords): it counts the live ids, then finds the id at each
// boundary's rank (one search call per step of at most the connector's MaxNth) and splits
// the open last range there at once, so lanes start on the new range while the next
// boundary is looked up. Finally it finds the last id, which bounds the open-ended last
// range for splitting. A split is stored by the new range's first page, together with the
// old range's new end, so a crash can never leave ids that no range covers.
func planRangesByRank(ctx, search workflow.Context, ref activities.StreamRef, st *BackfillState, stop *bool, failure *error) error {
	nth := func(after string, n int) (activities.NthIDResult, error) {
		var res activities.NthIDResult
		err := workflow.ExecuteActivity(search, a.NthID, activities.NthIDInput{StreamRef: ref, After: after, N: n}).Get(ctx, &res)
		return res, err
	}
	head, err := nth("", 0)
	if err != nil {
		return err
	}
	st.Progress.Total = int64(head.Total)
	ranges := min(st.Lanes, coarseRanges, head.Total/minRangeRecords)
	if ranges < 2 || head.MaxNth < 1 {
		workflow.GetLogger(ctx).Info("the listing is read as one chain", "records", head.Total)
		return nil
	}
	cur, curRank := "", -1
	// find returns the id at a rank from the start, hopping from the last id found.
	find := func(rank int) (string, error) {
		for rank-curRank > head.MaxNth {
			r, err := nth(cur, head.MaxNth-1)
			if err != nil || r.ID == "" {
				return "", err
			}
			cur, curRank = r.ID, curRank+head.MaxNth
		}
		r, err := nth(cur, rank-curRank-1)
		if err != nil || r.ID == "" {
			return "", err
		}
		cur, curRank = r.ID, rank
		return r.ID, nil
	}
	step := head.Total / ranges
	for k := 1; k < ranges && !*stop && *failure == nil; k++ {
		lo, err := find(k * step)
		if err != nil || lo == "" {
			return err
		}
		// Seeking needs the token format; the first chain learns it from its second page.
		if err := workflow.Await(ctx, func() bool {
			return *stop || *failure != nil || st.Codec != "" || st.Unseekable || st.Ranges[0].Done
		}); err != nil {
			return err
		}
		if st.Codec == "" {
			return nil
		}
		if err := splitOpenRange(ctx, ref, st, lo); err != nil {
			return err
		}
	}
	// The last id bounds the open-ended last range, so that it can be split like the others.
	for last := head.Total - 1; last > curRank && !*stop && *failure == nil; {
		id, err := find(min(last, curRank+head.MaxNth))
		if err != nil || id == "" {
			return err
		}
		st.MaxID = id
	}
	return nil
}

// splitOpenRange ends the open-ended last range at lo and adds the range from lo on,
// unless that range has already read past lo.
func splitOpenRange(ctx workflow.Context, ref activities.StreamRef, st *BackfillState, lo string) error {
	for i, r := range st.Ranges {
		if r.Hi != "" || r.Done || r.splitting || crm.CompareIDs(lo, r.Lo) <= 0 {
			continue
		}
		if r.LastID != "" && crm.CompareIDs(r.LastID, lo) >= 0 {
			return nil
		}
		_, err := splitRange(ctx, ref, st, i, []string{lo})
		return err
	}
	return nil
}
