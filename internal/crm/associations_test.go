package crm_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/crmsync/crmsync/internal/crm"
)

func TestAssociationPairs(t *testing.T) {
	t.Parallel()
	tests := []struct {
		pair crm.AssociationPair
		want bool
	}{
		{pair: crm.AssociationPair{From: crm.Contacts, To: crm.Companies}, want: true},
		{pair: crm.AssociationPair{From: crm.Deals, To: crm.Companies}, want: true},
		{pair: crm.AssociationPair{From: crm.Deals, To: crm.Contacts}, want: true},
		// The other side of each: read from the side with few links per record only.
		{pair: crm.AssociationPair{From: crm.Companies, To: crm.Contacts}},
		{pair: crm.AssociationPair{From: crm.Contacts, To: crm.Deals}},
		{pair: crm.AssociationPair{From: crm.Deals, To: crm.Deals}},
	}
	for _, tc := range tests {
		require.Equal(t, tc.want, tc.pair.Supported(), tc.pair.String())
	}
	require.Equal(t, "deals->contacts", crm.AssociationPair{From: crm.Deals, To: crm.Contacts}.String())
}
