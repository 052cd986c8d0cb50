package activities

// Classify exposes classify to the package's external tests.
var Classify = classify

// Integration exposes a configured integration to the package's external tests.
func (a *Activities) Integration(id string) (*Integration, bool) {
	in, ok := a.integrations[id]
	return in, ok
}
