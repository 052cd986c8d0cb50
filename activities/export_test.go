package activities

// Classify exposes classify to the package's external tests.
var Classify = classify
