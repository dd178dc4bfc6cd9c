package api

import (
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/timebank/timebank/ledger"
)

const creditJSON = `{"volunteer":"resident:v1024","hours":"2.50","activity":{"id":"visit-0917","category":"elderly-care","started_at":"2026-11-28T09:00:00+08:00","ended_at":"2026-11-28T12:00:00+08:00"},"memo":"tea and talk"}`

func TestCheckStructure(t *testing.T) {
	anything := schemaOf(reflect.TypeFor[any]())
	for body, ok := range map[string]bool{
		creditJSON:                   true,
		` {"a":[{"b":1},{"b":2}]} `:  true, // same key in sibling objects is fine
		`{"a":{"b":1},"b":{"a":2}}`:  true,
		`{"a":1,"a":1}`:              false,
		`{"a":{"b":1,"c":{},"b":2}}`: false,
		`{"a":"x","b":"a","a":"y"}`:  false, // a string value equal to a key is not a key
		`{"a":1} {"a":1}`:            false,
		`{"a":1}]`:                   false,
		`[{"a":1}]`:                  false,
		strings.Repeat(`{"a":`, 17):  false,
		`{"a":"\ud83d\ude00"}`:       true, // a surrogate pair is one character
		`{"a":"\\ud800"}`:            true, // an escaped backslash, then text
		`{"a":"\ud800"}`:             false,
		`{"a":"\udc00\ud800"}`:       false,
		`{"a":"\udc00\udfff"}`:       false, // two second halves are no pair
		`{"a":"\ud800\u00e9"}`:       false,
		`{"\ud800":1}`:               false,
		`{"a":"\ud800`:               false,
	} {
		if err := checkStructure([]byte(body), anything, plainBody); (err == nil) != ok {
			t.Errorf("%s: accepted %v, want %v (%v)", body, err == nil, ok, err)
		}
	}
	if err := checkStructure([]byte(`{"a":"x","b":"a"}`), anything, plainBody); err != nil {
		t.Errorf("a value equal to an earlier key is not a duplicate: %v", err)
	}
}

// TestSchemaNames: the names the scan accepts are the names encoding/json writes, for every
// body the API decodes, down to the fields of nested structs.
func TestSchemaNames(t *testing.T) {
	for _, v := range []any{&ledger.OpenBody{}, &freezeRequest{}, &ledger.LinkBody{}, &ledger.CreditBody{},
		&ledger.RedemptionBody{}, &ledger.HoldBody{}, &settleRequest{}, &voidRequest{}, &ledger.TransferBody{},
		&ledger.DonationBody{}, &ledger.GrantBody{}, &ledger.ConversionBody{}, &ledger.ReversalBody{},
		&ledger.PolicyBody{Policy: *ledger.DefaultPolicy()}, &tokenRequest{}} {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		sameNames(t, reflect.TypeOf(v).String(), schemaOf(reflect.TypeOf(v)), m)
	}
}

// sameNames compares the fields of struct schema s with the members of m, the object
// encoding/json wrote for it, and the schemas of their values where they are objects.
func sameNames(t *testing.T, path string, s *schema, m map[string]any) {
	t.Helper()
	switch s.kind {
	case structSchema:
		var names, members []string
		for name := range s.fields {
			names = append(names, name)
		}
		for name := range m {
			members = append(members, name)
		}
		slices.Sort(names)
		slices.Sort(members)
		if !slices.Equal(names, members) {
			t.Errorf("%s: the scan accepts %v, encoding/json writes %v", path, names, members)
		}
		for name, v := range m {
			if sub, ok := v.(map[string]any); ok {
				sameNames(t, path+"."+name, s.fields[name].value, sub)
			}
		}
	case mapSchema:
		for key, v := range m {
			if sub, ok := v.(map[string]any); ok {
				sameNames(t, path+"."+key, s.elem, sub)
			}
		}
	default:
		t.Errorf("%s: an object, but the schema's kind is %d", path, s.kind)
	}
}

// FuzzDecodeStrict: no input panics, and whatever is accepted is one valid JSON object in
// valid UTF-8 without repeated keys.
func FuzzDecodeStrict(f *testing.F) {
	for _, s := range []string{creditJSON, `{"hours":1}`, `{"a":1,"a":2}`, `{}`, `{"activity":{"id":"x","id":"y"}}`, "{\"memo\":\"\xff\"}"} {
		f.Add([]byte(s))
	}
	f.Add([]byte(`{"timezone":"UTC","assets":{"HOURS":{"scale":2}},"credit":{"categories":{"a":{"points_per_hour":"1"}}},"limits":{"resident":{"HOURS":{"upper":"1"}}}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var body ledger.CreditBody
		err := decodeStrict(b, &body, entryBody)
		if err == nil {
			var m map[string]any
			if !json.Valid(b) || !utf8.Valid(b) || json.Unmarshal(b, &m) != nil {
				t.Fatalf("accepted %q", b)
			}
			for k := range m { // field names are exact (encoding/json alone folds case)
				if !map[string]bool{"station": true, "volunteer": true, "hours": true, "activity": true, "memo": true}[k] {
					t.Fatalf("accepted key %q in %q", k, b)
				}
			}
		} else if _, ok := err.(*ledger.Error); !ok {
			t.Fatalf("error %v is not a *ledger.Error", err)
		}
		// The policy's maps take any keys: the scan must not panic or accept non-JSON there.
		var pol ledger.PolicyBody
		if err := decodeStrict(b, &pol, policyBody); err == nil {
			if !json.Valid(b) {
				t.Fatalf("accepted policy %q", b)
			}
		} else if _, ok := err.(*ledger.Error); !ok {
			t.Fatalf("policy error %v is not a *ledger.Error", err)
		}
	})
}

func BenchmarkDecodeCredit(b *testing.B) {
	raw := []byte(creditJSON)
	for b.Loop() {
		var body ledger.CreditBody
		if err := decodeStrict(raw, &body, entryBody); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkHostileAmount: a 60 KB amount is refused once the scan passes the longest
// string any field allows, before encoding/json sees it.
func BenchmarkHostileAmount(b *testing.B) {
	raw := []byte(`{"volunteer":"resident:v1","hours":"` + strings.Repeat("9", 60000) + `"}`)
	for b.Loop() {
		var body ledger.CreditBody
		if err := decodeStrict(raw, &body, entryBody); ledger.CodeOf(err) != ledger.CodeInvalidAmount {
			b.Fatal(err)
		}
	}
}

// BenchmarkHostileNesting: 64 KB of brackets is refused at depth 16.
func BenchmarkHostileNesting(b *testing.B) {
	raw := []byte(`{"memo":` + strings.Repeat("[", 64000))
	for b.Loop() {
		var body ledger.CreditBody
		if err := decodeStrict(raw, &body, entryBody); ledger.CodeOf(err) != ledger.CodeMalformedJSON {
			b.Fatal(err)
		}
	}
}

// manyKeys returns an object of distinct short keys (a, b, …, zz, aaa, …) each holding
// value, as many as fit in 64 KiB with prefix before it and a closing brace per open one
// in prefix after it.
func manyKeys(prefix, value string) []byte {
	closing := strings.Repeat("}", strings.Count(prefix, "{"))
	b := []byte(prefix)
	for n := 0; ; n++ {
		key := ""
		for k := n; ; k = k/26 - 1 {
			key = string(rune('a'+k%26)) + key
			if k < 26 {
				break
			}
		}
		member := `"` + key + `":` + value
		if len(b)+1+len(member)+len(closing) > maxBodyBytes {
			break
		}
		if n > 0 {
			b = append(b, ',')
		}
		b = append(b, member...)
	}
	return append(b, closing...)
}

// BenchmarkHostileManyKeys: 64 KiB of distinct short keys, in a body's own object (the
// first is unknown), in a map-typed policy field (keys are data there: refused after
// maxMapKeys; before that limit, decoded whole and refused by Policy.Compile), and in an
// object sent for a string (refused by encoding/json as the wrong type).
func BenchmarkHostileManyKeys(b *testing.B) {
	b.Run("body", func(b *testing.B) {
		raw := manyKeys(`{`, `0`)
		for b.Loop() {
			var body ledger.RedemptionBody
			if err := decodeStrict(raw, &body, entryBody); ledger.CodeOf(err) != ledger.CodeUnknownField {
				b.Fatal(err)
			}
		}
	})
	b.Run("policy_map", func(b *testing.B) {
		raw := manyKeys(`{"credit":{"categories":{`, `{}`)
		for b.Loop() {
			var body ledger.PolicyBody
			if err := decodeStrict(raw, &body, policyBody); err != nil && ledger.CodeOf(err) != ledger.CodeInvalidPolicy {
				b.Fatal(err)
			}
		}
	})
	b.Run("wrong_type", func(b *testing.B) {
		raw := manyKeys(`{"amount":{`, `0`)
		for b.Loop() {
			var body ledger.RedemptionBody
			if err := decodeStrict(raw, &body, entryBody); ledger.CodeOf(err) != ledger.CodeInvalidAmount {
				b.Fatal(err)
			}
		}
	})
}

// TestParseUintSaysWhy: a number too large for 64 bits is told so, not told it is not a whole
// number (a 20-digit seq was, before: the digits were capped at 19).
func TestParseUintSaysWhy(t *testing.T) {
	if v, err := parseUint("seq", "18446744073709551615"); err != nil || v != 1<<64-1 {
		t.Fatalf("2^64−1: %d, %v", v, err)
	}
	for in, want := range map[string]string{
		"18446744073709551616":       "seq is too large",
		"99999999999999999999999999": "seq is too large",
		"12a":                        "seq must be a whole number",
		"-1":                         "seq must be a whole number",
		"":                           "seq must be a whole number",
	} {
		if _, err := parseUint("seq", in); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("parseUint(%q): %v, want %q", in, err, want)
		}
	}
}
