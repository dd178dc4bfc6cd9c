package api

import (
	"encoding"
	"encoding/json"
	"reflect"
	"strings"
	"sync"
)

// A schema is what the structure scan knows of the Go type a body decodes into: which
// objects are structs, whose keys must be exactly their fields' JSON names, and which are
// maps, whose keys are data. encoding/json alone would match a key to a field whatever its
// case, even by Unicode folding ("reaſon", with U+017F, fills reason), so a body could name
// one field twice under two spellings and the last would win.
type schema struct {
	kind   schemaKind
	typ    reflect.Type           // the Go type, for the message of a type mismatch
	fields map[string]schemaField // structSchema: by exact JSON name
	all    uint64                 // structSchema: the bits of all its fields
	elem   *schema                // mapSchema, listSchema: the values' schema
}

type schemaKind uint8

const (
	leafSchema   schemaKind = iota // string, number, bool: an object or array is a type error
	structSchema                   // an object whose keys are the fields' JSON names, each once
	mapSchema                      // an object whose keys are data, each once
	listSchema                     // an array
	freeSchema                     // an interface or its own UnmarshalJSON: any keys, each once
)

// schemaField is one field of a struct schema.
type schemaField struct {
	name  string  // the JSON name, exactly
	bit   uint64  // 1 << the field's index: the scan's duplicate check is a bit mask
	value *schema // what the field holds
}

// maxStructFields bounds a struct's fields so that a uint64 can mark those seen.
const maxStructFields = 64

var schemas sync.Map // reflect.Type → *schema

// schemaOf returns the schema of t, built by reflection once per type. It panics on a type
// the scan cannot check exactly (two fields of one JSON name, over maxStructFields fields):
// a programmer error, found by the first test that decodes such a body.
func schemaOf(t reflect.Type) *schema {
	if s, ok := schemas.Load(t); ok {
		return s.(*schema)
	}
	b := schemaBuilder{built: map[reflect.Type]*schema{}}
	s := b.build(t)
	schemas.Store(t, s)
	return s
}

type schemaBuilder struct {
	built map[reflect.Type]*schema // so that a recursive type ends
}

var (
	unmarshalerType     = reflect.TypeFor[json.Unmarshaler]()
	textUnmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()
)

// build follows encoding/json's rules for which JSON value fills t.
func (b *schemaBuilder) build(t reflect.Type) *schema {
	if s, ok := b.built[t]; ok {
		return s
	}
	pt := reflect.PointerTo(t)
	switch {
	case t.Kind() == reflect.Pointer:
		return b.build(t.Elem())
	case t.Implements(unmarshalerType) || pt.Implements(unmarshalerType):
		s := &schema{kind: freeSchema, typ: t}
		s.elem = s
		return s
	case t.Implements(textUnmarshalerType) || pt.Implements(textUnmarshalerType):
		return &schema{kind: leafSchema, typ: t}
	}
	s := &schema{typ: t}
	b.built[t] = s
	switch t.Kind() {
	case reflect.Interface:
		s.kind, s.elem = freeSchema, s
	case reflect.Struct:
		s.kind, s.fields = structSchema, map[string]schemaField{}
		b.addFields(s, t)
	case reflect.Map:
		s.kind, s.elem = mapSchema, b.build(t.Elem())
	case reflect.Slice, reflect.Array:
		if t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Uint8 {
			break // []byte is a base64 string
		}
		s.kind, s.elem = listSchema, b.build(t.Elem())
	}
	return s
}

// addFields adds the fields of struct t to s, flattening embedded structs as encoding/json
// does. Where encoding/json would let one of two same-named fields win by depth, this panics.
func (b *schemaBuilder) addFields(s *schema, t reflect.Type) {
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		ft := f.Type
		if ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		if f.Anonymous && name == "" && ft.Kind() == reflect.Struct {
			b.addFields(s, ft)
			continue
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		if _, dup := s.fields[name]; dup || len(s.fields) == maxStructFields {
			panic("api: the strict decoder cannot check " + t.String() + "." + f.Name + " exactly")
		}
		bit := uint64(1) << len(s.fields)
		s.fields[name] = schemaField{name: name, bit: bit, value: b.build(f.Type)}
		s.all |= bit
	}
}

// holds reports whether an object (c is '{') or an array ('[') can fill s.
func (s *schema) holds(c byte) bool {
	switch s.kind {
	case structSchema, mapSchema:
		return c == '{'
	case listSchema:
		return c == '['
	}
	return s.kind == freeSchema
}
