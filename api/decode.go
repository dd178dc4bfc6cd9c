package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"reflect"
	"strings"
	"unicode/utf16"
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

// maxMapKeys bounds the keys of one map-typed field, so that a hostile body of many keys
// costs little before encoding/json builds the map: the largest map of any body, the
// policy's categories, may hold 100.
const maxMapKeys = 256

// checkMediaType answers 415 unless the request says Content-Type: application/json, with
// no parameter or charset=utf-8 (any case, quoted or not), and no Content-Encoding but
// identity. JSON is UTF-8 (RFC 8259), and application/json has no other parameter: a body
// that says it is Latin-1, or gzip-compressed (the server decodes no content coding), would
// be read as something other than what its sender meant.
func checkMediaType(c echo.Context) error {
	mt, params, err := mime.ParseMediaType(c.Request().Header.Get(echo.HeaderContentType))
	if err != nil || mt != "application/json" {
		return errMediaType()
	}
	for _, line := range c.Request().Header.Values(echo.HeaderContentEncoding) {
		for coding := range strings.SplitSeq(line, ",") {
			if coding = strings.TrimSpace(coding); coding != "" && !strings.EqualFold(coding, "identity") {
				return ledger.Errorf(ledger.CodeUnsupportedMediaType,
					"Send the body uncompressed, without 'Content-Encoding: %.20s'.", coding)
			}
		}
	}
	for name, value := range params {
		if name != "charset" || !strings.EqualFold(value, "utf-8") {
			param := name + "=" + value
			if len(param) > 40 {
				param = param[:40] + "…"
			}
			return ledger.Errorf(ledger.CodeUnsupportedMediaType,
				"Send the body as UTF-8 JSON with 'Content-Type: application/json', without %q.", param)
		}
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
// duplicate keys, trailing data and nesting over maxJSONDepth (400 malformed_json), keys
// that are not exactly the JSON name of a field of v (400 unknown_field: encoding/json alone
// would take any case variant), and values of the wrong JSON type (see kindOfBody).
func decodeStrict(b []byte, v any, kind kindOfBody) error {
	if len(b) == 0 {
		return malformed("The request body is empty; send a JSON object.")
	}
	if !utf8.Valid(b) {
		return malformed("The request body is not valid UTF-8.")
	}
	if err := checkStructure(b, schemaOf(reflect.TypeOf(v)), kind); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return decodeError(err, b, kind)
	}
	return nil
}

func malformed(msg string) *ledger.Error { return ledger.Errorf(ledger.CodeMalformedJSON, "%s", msg) }

// decodeError maps an encoding/json error in decoding b to a catalogue error.
func decodeError(err error, b []byte, kind kindOfBody) error {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return typeError(pathAt(b, te.Offset), te, kind)
	}
	msg := err.Error()
	if name, ok := strings.CutPrefix(msg, "json: unknown field "); ok {
		// The scan lets no such key through; this answers rightly if one ever does.
		name = strings.Trim(name, `"`)
		return ledger.Errorf(ledger.CodeUnknownField, "The field %q is not part of this request.", name).
			With("field", name)
	}
	return malformed("The request body is not valid JSON.")
}

// Limits of the structure scan. No field of any body is longer: a memo of 200 characters
// is at most 1,200 bytes even fully \u-escaped, a reason of 500 at most 3,000.
const (
	maxStringBytes  = 8 << 10
	maxLiteralBytes = 64
)

// frame is one open object or array of the structure scan.
type frame struct {
	object  bool
	wantKey bool
	node    *schema             // what it holds; nil inside a value of the wrong type, or not JSON
	next    *schema             // the schema of the value under lastKey
	lastKey string              // "" in an array or an unchecked object
	seen    uint64              // the fields of a struct seen, by schemaField.bit
	keys    map[string]struct{} // the keys of a map seen: a set, so that many keys cost linear time
}

// checkStructure scans b once, byte by byte, before encoding/json sees it: the top level
// must be one object, every key of a struct must be exactly one of its fields' JSON names,
// no object may repeat a key (encoding/json would silently keep the last), nothing but
// whitespace may follow it, nesting stays within maxJSONDepth, no string or literal is
// longer than any field can be, and no object or array stands where root, the schema of
// the body's type, has none. Hostile input is refused as soon as a limit is crossed, and no
// byte is read twice (64 KiB cost about 0.1 ms). Syntax the scan does not check (colons,
// commas, literals) is left to encoding/json, and so are the types of strings, numbers and
// literals. Failures are 400 malformed_json, unknown_field, the code of the field an
// over-long value was sent for, or the type error of a misplaced object or array, which
// answers only once the rest of the scan has passed.
func checkStructure(b []byte, root *schema, kind kindOfBody) error {
	i := skipSpace(b, 0)
	if i == len(b) || b[i] != '{' {
		return malformed("The request body must be one JSON object.")
	}
	stack := make([]frame, 0, 4)
	var wrong wrongValue // the first object or array of the wrong type, answered after the scan
	for i < len(b) {
		switch c := b[i]; c {
		case ' ', '\t', '\n', '\r', ':':
			i++
		case ',':
			if n := len(stack); n > 0 && stack[n-1].object {
				stack[n-1].wantKey, stack[n-1].next = true, nil
			}
			i++
		case '{', '[':
			if len(stack) == maxJSONDepth {
				return malformed("The request body is nested too deeply.")
			}
			stack = append(stack, open(stack, root, c, &wrong))
			i++
		case '}', ']':
			if len(stack) == 0 {
				return malformed("The request body is not valid JSON.")
			}
			if kind == policyBody {
				if err := missingMember(stack); err != nil {
					return err
				}
			}
			stack = stack[:len(stack)-1]
			i++
			if len(stack) == 0 {
				if skipSpace(b, i) != len(b) {
					return malformed("The request body has data after its JSON object.")
				}
				return wrong.err(kind)
			}
		case '"':
			end, err := scanString(b, i, stack)
			if err != nil {
				return err
			}
			if top := &stack[len(stack)-1]; top.object && top.wantKey {
				if err := addKey(stack, b[i+1:end-1], kind); err != nil {
					return err
				}
			}
			i = end
		default:
			end, err := scanLiteral(b, i, stack, kind)
			if err != nil {
				return err
			}
			i = end
		}
	}
	return malformed("The request body is not valid JSON: it ends too early.")
}

// open returns the frame of an object or array (c is its opening byte) inside stack, whose
// schema is root's or the enclosing frame's. A value of the wrong type is recorded in wrong,
// the first one only, and its contents go unchecked: the body is refused anyway.
func open(stack []frame, root *schema, c byte, wrong *wrongValue) frame {
	node := root
	if n := len(stack); n > 0 {
		node = stack[n-1].next
	}
	if node != nil && !node.holds(c) {
		if wrong.s == nil {
			*wrong = wrongValue{path: fieldPath(stack), s: node, c: c}
		}
		node = nil
	}
	f := frame{object: c == '{', wantKey: c == '{', node: node}
	if !f.object && node != nil {
		f.next = node.elem // every element of an array has its schema
	}
	return f
}

// scanLiteral returns the end of the number, true, false or null that starts at b[i]. It
// refuses a literal longer than maxLiteralBytes, an empty one, and a null in a policy, which
// must be a whole document.
func scanLiteral(b []byte, i int, stack []frame, kind kindOfBody) (int, error) {
	j := i
	for j < len(b) && !isDelimiter(b[j]) {
		j++
	}
	if j-i > maxLiteralBytes {
		return 0, tooLong(stack)
	}
	if j == i {
		return 0, malformed("The request body is not valid JSON.")
	}
	if kind == policyBody && string(b[i:j]) == "null" {
		path := fieldPath(stack)
		return 0, ledger.Errorf(ledger.CodeInvalidPolicy,
			"The policy is not valid: %s is null; send the whole policy document, with {} for an empty map.", path).
			With("field", path)
	}
	return j, nil
}

// addKey records the key raw of the object on top of stack. A struct's key must be exactly
// one of its fields' JSON names; a map's keys are data, at most maxMapKeys of them. No key
// may come twice.
func addKey(stack []frame, raw []byte, kind kindOfBody) error {
	f := &stack[len(stack)-1]
	f.wantKey = false
	switch {
	case f.node == nil:
		return nil
	case f.node.kind == structSchema:
		field, ok := f.node.fields[string(raw)]
		if !ok {
			return unknownKey(stack, raw)
		}
		if f.seen&field.bit != 0 {
			return duplicateKey(stack, field.name)
		}
		f.seen |= field.bit
		f.lastKey, f.next = field.name, field.value
		return nil
	}
	if len(raw) > maxKeyLength || bytes.IndexByte(raw, '\\') >= 0 {
		// No map key is long or needs escapes; an escaped one could hide a duplicate.
		return unknownKey(stack, raw)
	}
	if _, dup := f.keys[string(raw)]; dup {
		return duplicateKey(stack, string(raw))
	}
	if len(f.keys) == maxMapKeys {
		return tooManyKeys(stack, kind)
	}
	if f.keys == nil {
		f.keys = make(map[string]struct{})
	}
	f.lastKey, f.next = string(raw), f.node.elem
	f.keys[f.lastKey] = struct{}{}
	return nil
}

// missingMember refuses a policy object, on top of stack and now closing, that lacks one of
// its fields (400 invalid_policy). PUT /v1/policy takes the whole document (SPEC §3): a
// member left out would otherwise read as zero, silently lifting every limit or closing the
// stations' reversal window.
func missingMember(stack []frame) error {
	f := stack[len(stack)-1]
	if !f.object || f.node == nil || f.node.kind != structSchema || f.seen == f.node.all {
		return nil
	}
	var first schemaField
	for _, field := range f.node.fields {
		if f.seen&field.bit == 0 && (first.bit == 0 || field.bit < first.bit) {
			first = field
		}
	}
	path := first.name
	if at := fieldPath(stack[:len(stack)-1]); at != "" {
		path = at + "." + first.name
	}
	return ledger.Errorf(ledger.CodeInvalidPolicy,
		"The policy is not valid: %s is missing; send the whole policy document (GET /v1/policy gives the one in force).", path).
		With("field", path)
}

// unknownKey refuses the key raw of the object on top of stack (400 unknown_field), naming
// its path and, when it differs from a field only in case, the field.
func unknownKey(stack []frame, raw []byte) error {
	key := string(raw[:min(len(raw), maxKeyLength)])
	stack[len(stack)-1].lastKey = key
	path := fieldPath(stack)
	if node := stack[len(stack)-1].node; node.kind == structSchema {
		for name := range node.fields {
			if strings.EqualFold(name, key) {
				return ledger.Errorf(ledger.CodeUnknownField, "The field %q is not part of this request; field names are exact: did you mean %q?",
					path, name).With("field", path)
			}
		}
	}
	return ledger.Errorf(ledger.CodeUnknownField, "The field %q is not part of this request.", path).With("field", path)
}

func duplicateKey(stack []frame, key string) error {
	stack[len(stack)-1].lastKey = key
	path := fieldPath(stack)
	return ledger.Errorf(ledger.CodeMalformedJSON, "The field %q appears twice.", path).With("field", path)
}

// wrongValue is an object (c is '{') or an array ('[') sent at path for a value of schema s
// that cannot hold it. The scan refuses it as encoding/json would, but without encoding/json
// reading the body, so a hostile body of many keys in a string's place costs one scan; the
// scan's own refusals come first.
type wrongValue struct {
	path string
	s    *schema
	c    byte
}

// err is the type error of w, or nil if there is none.
func (w wrongValue) err(kind kindOfBody) error {
	if w.s == nil {
		return nil
	}
	value := "object"
	if w.c == '[' {
		value = "array"
	}
	return typeError(w.path, &json.UnmarshalTypeError{Value: value, Type: w.s.typ}, kind)
}

// tooManyKeys refuses a map of more than maxMapKeys keys. Only the policy has maps.
func tooManyKeys(stack []frame, kind kindOfBody) error {
	path := fieldPath(stack[:len(stack)-1]) // the map's, not its last key's
	if kind == policyBody {
		return ledger.Errorf(ledger.CodeInvalidPolicy, "The policy is not valid: %s has more than %d keys.", path, maxMapKeys).
			With("field", path)
	}
	return invalidField(path, "%s has more than %d keys.", path, maxMapKeys)
}

// fieldPath names the value the scan is in: the keys of the objects around it, dotted.
func fieldPath(stack []frame) string {
	var path strings.Builder
	for _, f := range stack {
		if f.lastKey != "" {
			if path.Len() > 0 {
				path.WriteByte('.')
			}
			path.WriteString(f.lastKey)
		}
	}
	return path.String()
}

// scanString returns the index just past the string starting at b[i] ('"'). It refuses a
// \u escape of half a UTF-16 surrogate pair without the other half: encoding/json would
// store U+FFFD, so the entry would not hold what was sent.
func scanString(b []byte, i int, stack []frame) (int, error) {
	for j := i + 1; j < len(b); j++ {
		if j-i > maxStringBytes {
			return 0, tooLong(stack)
		}
		switch b[j] {
		case '\\':
			if r, ok := escapedRune(b, j); ok && utf16.IsSurrogate(r) {
				low, ok := escapedRune(b, j+6)
				if r >= 0xDC00 || !ok || low < 0xDC00 || low > 0xDFFF {
					return 0, loneSurrogate(stack, b[j:j+6])
				}
				j += 6 // past the first half: the second is not a lone one
			}
			j++
		case '"':
			return j + 1, nil
		}
	}
	return 0, malformed("The request body is not valid JSON: a string is not closed.")
}

// escapedRune decodes the escape \uXXXX at b[j], if there is one.
func escapedRune(b []byte, j int) (rune, bool) {
	if j+6 > len(b) || b[j] != '\\' || b[j+1] != 'u' {
		return 0, false
	}
	var r rune
	for _, c := range b[j+2 : j+6] {
		switch {
		case c >= '0' && c <= '9':
			r = r<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	return r, true
}

// loneSurrogate refuses the escape esc (400 malformed_json), naming the field whose value
// holds it, or the object whose key does.
func loneSurrogate(stack []frame, esc []byte) error {
	if n := len(stack); n > 0 && stack[n-1].object && stack[n-1].wantKey {
		stack = stack[:n-1]
	}
	path := fieldPath(stack)
	if path == "" {
		return malformed(fmt.Sprintf("The request body holds %s, half of a UTF-16 surrogate pair; send the whole character.", esc))
	}
	return ledger.Errorf(ledger.CodeMalformedJSON, "The text of %s holds %s, half of a UTF-16 surrogate pair; send the whole character.",
		path, esc).With("field", path)
}

// tooLong refuses an over-long value with the code of its field: an amount's is
// invalid_amount, any other's invalid_field.
func tooLong(stack []frame) error {
	field := fieldPath(stack)
	if last := field[strings.LastIndexByte(field, '.')+1:]; last == "amount" || last == "hours" {
		return ledger.Errorf(ledger.CodeInvalidAmount, "%s is far too long to be an amount.", field).With("field", field)
	}
	return invalidField(field, "The value of %q is longer than any field allows.", field)
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

func isDelimiter(c byte) bool {
	switch c {
	case ' ', '\t', '\n', '\r', ',', ':', '{', '}', '[', ']', '"':
		return true
	}
	return false
}

// pathAt names the value that ends at offset off of b, a body the structure scan passed,
// as fieldPath does: the keys of the objects around it, map keys included (the paths of
// encoding/json's errors leave them out and name embedded Go structs instead).
func pathAt(b []byte, off int64) string {
	stack := make([]frame, 0, 4)
	for i := 0; int64(i) < off && i < len(b); i++ {
		switch c := b[i]; c {
		case '{', '[':
			stack = append(stack, frame{object: c == '{', wantKey: c == '{'})
		case '}', ']':
			if len(stack) > 0 {
				stack = stack[:len(stack)-1]
			}
		case ',':
			if n := len(stack); n > 0 && stack[n-1].object {
				stack[n-1].wantKey = true
			}
		case '"':
			end, err := scanString(b, i, stack)
			if err != nil || len(stack) == 0 {
				return fieldPath(stack)
			}
			if top := &stack[len(stack)-1]; top.object && top.wantKey {
				top.lastKey, top.wantKey = string(b[i+1:end-1]), false
			}
			i = end - 1
		}
	}
	return fieldPath(stack)
}
