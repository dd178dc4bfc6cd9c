package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/timebank/timebank/ledger"
)

// maxBodyBytes bounds every request body (SPEC §7: 413 above 64 KiB).
const maxBodyBytes = 64 << 10

// maxJSONDepth bounds nesting: the deepest valid body (a policy's limits) has depth 4.
const maxJSONDepth = 16

// maxKeyLength bounds an object key: no field of any body is longer.
const maxKeyLength = 64

// checkMediaType answers 415 unless the request says Content-Type: application/json
// (parameters such as charset=utf-8 are allowed; JSON is UTF-8 by definition).
func checkMediaType(c echo.Context) error {
	ct := c.Request().Header.Get(echo.HeaderContentType)
	mt, _, _ := strings.Cut(ct, ";")
	if !strings.EqualFold(strings.TrimSpace(mt), "application/json") {
		return errMediaType()
	}
	return nil
}

// readBody reads the whole body, at most maxBodyBytes. It does not trust Content-Length
// alone: a chunked or lying body is cut at the limit just the same.
func readBody(c echo.Context) ([]byte, error) {
	r := c.Request()
	if r.ContentLength > maxBodyBytes {
		return nil, errTooLarge()
	}
	if r.Body == nil {
		return nil, nil
	}
	size := r.ContentLength
	if size < 0 || size > 4096 {
		size = 4096
	}
	buf := bytes.NewBuffer(make([]byte, 0, size+1))
	n, err := buf.ReadFrom(io.LimitReader(r.Body, maxBodyBytes+1))
	if n > maxBodyBytes {
		return nil, errTooLarge()
	}
	if err != nil {
		return nil, ledger.Errorf(ledger.CodeMalformedJSON, "The request body could not be read.")
	}
	return buf.Bytes(), nil
}

// kindOfBody says how type mismatches of a body are reported.
type kindOfBody int

const (
	entryBody  kindOfBody = iota // amount fields → invalid_amount, others → invalid_field
	policyBody                   // every mismatch → invalid_policy
	plainBody                    // every mismatch → invalid_field
)

// decodeStrict decodes b, one JSON object, into v. It rejects invalid UTF-8, syntax errors,
// duplicate keys, trailing data and nesting over maxJSONDepth (400 malformed_json), unknown
// fields (400 unknown_field), and values of the wrong JSON type (see kindOfBody).
func decodeStrict(b []byte, v any, kind kindOfBody) error {
	if len(b) == 0 {
		return malformed("The request body is empty; send a JSON object.")
	}
	if !utf8.Valid(b) {
		return malformed("The request body is not valid UTF-8.")
	}
	if err := checkStructure(b); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return decodeError(err, kind)
	}
	return nil
}

func malformed(msg string) *ledger.Error { return ledger.Errorf(ledger.CodeMalformedJSON, "%s", msg) }

// decodeError maps an encoding/json error to a catalogue error.
func decodeError(err error, kind kindOfBody) error {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		field := te.Field
		last := field[strings.LastIndexByte(field, '.')+1:]
		switch {
		case kind == policyBody:
			return ledger.Errorf(ledger.CodeInvalidPolicy, "The policy is not valid: %s must be a JSON %s.", field, jsonKind(te)).
				With("field", field)
		case kind == entryBody && (last == "amount" || last == "hours"):
			return ledger.Errorf(ledger.CodeInvalidAmount,
				"%s must be a JSON string holding a plain decimal such as \"2.50\", not a %s.", field, te.Value).
				With("field", field)
		}
		return invalidField(field, "%s must be a JSON %s, not a %s.", field, jsonKind(te), te.Value)
	}
	msg := err.Error()
	if name, ok := strings.CutPrefix(msg, "json: unknown field "); ok {
		name = strings.Trim(name, `"`)
		return ledger.Errorf(ledger.CodeUnknownField, "The field %q is not part of this request.", name).
			With("field", name)
	}
	return malformed("The request body is not valid JSON.")
}

func jsonKind(te *json.UnmarshalTypeError) string {
	switch te.Type.Kind().String() {
	case "string":
		return "string"
	case "struct", "map":
		return "object"
	case "slice", "array":
		return "array"
	case "bool":
		return "boolean"
	}
	return "number"
}

// frame is one open object or array of the structure walk.
type frame struct {
	object  bool
	wantKey bool
	keys    []string
}

// checkStructure walks the tokens of b once: the top level must be one object, no object
// may repeat a key (encoding/json would silently keep the last), nothing may follow the
// object, and nesting stays within maxJSONDepth. Every failure is 400 malformed_json.
func checkStructure(b []byte) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var stack []frame
	valueDone := func() {
		if n := len(stack); n > 0 && stack[n-1].object {
			stack[n-1].wantKey = true
		}
	}
	for first := true; ; first = false {
		tok, err := dec.Token()
		if err != nil {
			return malformed("The request body is not valid JSON.")
		}
		if d, ok := tok.(json.Delim); first && (!ok || d != '{') {
			return malformed("The request body must be one JSON object.")
		}
		switch t := tok.(type) {
		case json.Delim:
			if t == '{' || t == '[' {
				valueDone()
				if len(stack) == maxJSONDepth {
					return malformed("The request body is nested too deeply.")
				}
				stack = append(stack, frame{object: t == '{', wantKey: t == '{'})
				continue
			}
			stack = stack[:len(stack)-1]
		case string:
			top := &stack[len(stack)-1]
			if !top.object || !top.wantKey {
				valueDone()
				break
			}
			if len(t) > maxKeyLength {
				return ledger.Errorf(ledger.CodeUnknownField, "The field %q is not part of this request.", t[:maxKeyLength]+"…")
			}
			for _, k := range top.keys {
				if k == t {
					return ledger.Errorf(ledger.CodeMalformedJSON, "The field %q appears twice.", t).With("field", t)
				}
			}
			top.keys = append(top.keys, t)
			top.wantKey = false
		default:
			valueDone()
		}
		if len(stack) == 0 {
			break
		}
	}
	if _, err := dec.Token(); err != io.EOF {
		return malformed("The request body has data after its JSON object.")
	}
	return nil
}
