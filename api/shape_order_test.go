package api_test

import (
	"strings"
	"testing"
)

// TestShapeAnswersBeforeAuthentication: a request's own faults answer 400 before its token
// is looked at (SPEC §3: shape, then authentication and role), for the shape checks the
// ledger makes again when it decides: the API's copies are the only ones a request without
// a token, or with the wrong role, reaches.
func TestShapeAnswersBeforeAuthentication(t *testing.T) {
	e := newEnv(t)
	credit := func(started, ended, category string) string {
		return `{"volunteer":"resident:r01","hours":"1","activity":{"id":"a","category":"` + category +
			`","started_at":"` + started + `","ended_at":"` + ended + `"}}`
	}
	const t1, t2 = "2026-03-02T09:00:00+08:00", "2026-03-02T10:00:00+08:00"
	for _, c := range []struct {
		name, method, path, body, code string
	}{
		{"a link to itself", "POST", "/v1/links", `{"a":"resident:r01","b":"resident:r01","relation":"spouse"}`, "invalid_field"},
		{"a session that ends as it starts", "POST", "/v1/credits", credit(t1, t1, "cleaning"), "invalid_time"},
		{"a category that starts with '-'", "POST", "/v1/credits", credit(t1, t2, "-cleaning"), "invalid_field"},
		{"a category of 65 characters", "POST", "/v1/credits", credit(t1, t2, strings.Repeat("c", 65)), "invalid_field"},
		{"an inclusion proof in a tree without its entry", "GET", "/v1/proofs/inclusion?seq=2&tree_size=1", "", "invalid_field"},
	} {
		for _, who := range []string{"", "auditor"} {
			var r *resp
			if c.method == "GET" {
				r = e.do(c.method, c.path, who, "")
			} else {
				r = e.write(c.method, c.path, who, c.body)
			}
			if r.Status != 400 || r.code() != c.code {
				t.Errorf("%s, token %q: %s, want 400 %s", c.name, who, r, c.code)
			}
		}
	}
}
