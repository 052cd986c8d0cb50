package store

// SetClaimScan sets how many pending writes a claim reads at a time, for tests of its
// windows; it returns a function that restores it.
func SetClaimScan(n int) (restore func()) {
	old := claimScan
	claimScan = n
	return func() { claimScan = old }
}
