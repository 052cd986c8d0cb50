package main

import (
	"io"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestParseFlagsSoak(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		args      []string
		scenarios []string
		soak      time.Duration
		err       string
	}{
		{name: "the default run leaves the soak out", args: nil, scenarios: defaultScenarioNames(), soak: 30 * time.Minute},
		{name: "the soak runs when named", args: []string{"--scenarios", "s", "--soak", "3m"}, scenarios: []string{"s"}, soak: 3 * time.Minute},
		{name: "a zero soak is refused", args: []string{"--scenarios", "s", "--soak", "0s"}, err: "--soak must be a positive duration"},
		{name: "a negative soak is refused", args: []string{"--soak", "-1m"}, err: "--soak must be a positive duration"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			opts, err := parseFlags(tc.args, io.Discard)
			if tc.err != "" {
				require.ErrorContains(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.scenarios, opts.scenarios)
			require.Equal(t, tc.soak, opts.soak)
		})
	}
}

func TestDefaultScenariosLeaveOutOptIn(t *testing.T) {
	t.Parallel()
	require.NotContains(t, defaultScenarioNames(), "s")
	chosen, err := selectScenarios([]string{"s"})
	require.NoError(t, err)
	require.Len(t, chosen, 1)
	require.True(t, chosen[0].optIn)
}
