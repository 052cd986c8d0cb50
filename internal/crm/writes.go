package crm

import "context"

// WriteInput is one record of a batch write.
type WriteInput struct {
	// TraceID names the input in the CRM's per-item results and errors (HubSpot's
	// objectWriteTraceId): a batch's answer is matched back to its inputs by it, never by
	// position.
	TraceID string
	// ID is the record's CRM id (Update), or its value of IDProperty (Upsert); empty for
	// Create.
	ID string
	// IDProperty names the unique property ID holds (Upsert: "email"); empty for the CRM id.
	IDProperty string
	// Properties are the values to write, as the CRM's API takes them (HubSpot: strings).
	Properties map[string]string
}

// Written is an input the CRM accepted.
type Written struct {
	TraceID string
	// ID is the record's CRM id.
	ID string
	// Created says the write made a new record (HubSpot upsert's "new").
	Created bool
}

// ItemError is an input the CRM refused, with its words.
type ItemError struct {
	TraceID string
	// Category is the CRM's error category ("VALIDATION_ERROR", ...).
	Category string
	// Message is the CRM's message, truncated.
	Message string
	// Retryable says the same input may succeed later (a lock, a transient failure); false
	// means it never will as sent (invalid values, a record that does not exist).
	Retryable bool
}

// WriteResult is a batch write's answer, input by input. An input found in neither list
// (the CRM said nothing about it) was not written, as far as the caller can tell.
type WriteResult struct {
	Written []Written
	Failed  []ItemError
	// RateLimit is what the response's headers said about the quota.
	RateLimit RateLimit
}

// Writer is a Connector that writes records in batches. Each method makes one HTTP request
// of at most WriteBatchSize inputs, and returns *APIError when the request as a whole
// failed; per-input failures (HubSpot's 207) come back in WriteResult.Failed.
type Writer interface {
	// WriteBatchSize is the largest number of inputs one call takes (HubSpot: 100).
	WriteBatchSize() int
	// Upsert creates or updates records by a unique property (every input's IDProperty,
	// the same for the whole batch).
	Upsert(ctx context.Context, obj Object, inputs []WriteInput) (WriteResult, error)
	// Update updates existing records by CRM id.
	Update(ctx context.Context, obj Object, inputs []WriteInput) (WriteResult, error)
	// Create creates records.
	Create(ctx context.Context, obj Object, inputs []WriteInput) (WriteResult, error)
}
