package verify

import "fmt"

// SourceError is a source that could not be read, or is not a valid source: a checkpoint
// or verifier key that is malformed, a server that does not answer, answers an error status,
// stalls, or sends an answer too large or not the JSON it documents. It says nothing about
// the ledger: verify checked nothing (timebank verify exits 3, not 1).
type SourceError struct{ Err error }

func (e *SourceError) Error() string { return e.Err.Error() }
func (e *SourceError) Unwrap() error { return e.Err }

func sourceErrorf(format string, args ...any) error {
	return &SourceError{fmt.Errorf(format, args...)}
}

// MaxNoteBytes bounds a checkpoint or a verifier key, read from a file or a server: a
// checkpoint is a few hundred bytes (a key, about 60).
const MaxNoteBytes = 64 << 10
