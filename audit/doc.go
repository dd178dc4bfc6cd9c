// Package audit holds no code: its tests are an independent verifier of timebank's
// ledger, written from docs/FORMAT.md and the SPEC alone, without reading or importing the
// implementation (ledger, ledger/store, verify, api). It tests the documentation as much
// as the ledger: wherever the document is not enough to check what the server wrote, this
// verifier fails.
//
// The test builds the timebank binary, drives it over HTTP only with every kind of write,
// then checks the export (canonical bytes, seq and time order, genesis), the RFC 6962 tree
// against the signed checkpoint, every balance against GET /v1/accounts/{id}, and the
// stopped server's bbolt file against the export; and it checks that tampered copies
// (a changed byte, a dropped or swapped line, a checkpoint signed by another key) are
// refused.
package audit
