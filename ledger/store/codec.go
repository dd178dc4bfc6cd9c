package store

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// ErrCorrupt reports a stored key or value that does not decode. The store never writes
// one: it means the file was damaged or written by something else.
var ErrCorrupt = errors.New("store: corrupt record")

// maxStringBytes bounds every length-prefixed string a decoder accepts, so that a damaged
// length can never make a decoder allocate much. The longest stored string is a token label
// (100 characters of up to 4 bytes) or an account id (about 80 bytes).
const maxStringBytes = 1024

// maxListLen bounds every count a decoder accepts (balances per account, holds per account).
const maxListLen = 1 << 16

// appendUvarint, appendVarint and appendString are the primitives of every value encoding.
func appendUvarint(dst []byte, v uint64) []byte { return binary.AppendUvarint(dst, v) }

func appendVarint(dst []byte, v int64) []byte { return binary.AppendVarint(dst, v) }

func appendString(dst []byte, s string) []byte {
	return append(appendUvarint(dst, uint64(len(s))), s...)
}

// reader decodes the primitives above. It is canonical: it refuses a varint that is not
// in its shortest form, so that every value has exactly one encoding and a decoded record
// re-encodes to the same bytes (verify may compare bytes). The first failure sticks in err.
type reader struct {
	b   []byte
	err error
}

func (r *reader) fail(what string) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: %s", ErrCorrupt, what)
	}
	r.b = nil
}

func (r *reader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 || (n > 1 && r.b[n-1] == 0) {
		r.fail("bad varint")
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) varint() int64 {
	u := r.uvarint()
	v := int64(u >> 1)
	if u&1 != 0 {
		v = ^v
	}
	return v
}

func (r *reader) byte() byte {
	if r.err != nil {
		return 0
	}
	if len(r.b) < 1 {
		r.fail("short value")
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

// bytes returns the next n bytes, aliasing the input: copy what outlives the transaction.
func (r *reader) bytes(n int) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || len(r.b) < n {
		r.fail("short value")
		return nil
	}
	out := r.b[:n:n]
	r.b = r.b[n:]
	return out
}

func (r *reader) str() string {
	n := r.uvarint()
	if n > maxStringBytes {
		r.fail("string too long")
		return ""
	}
	return string(r.bytes(int(n)))
}

// count reads a list length and checks it against maxListLen and the bytes left, each
// element taking at least minBytes.
func (r *reader) count(minBytes int) int {
	n := r.uvarint()
	if n > maxListLen || n*uint64(minBytes) > uint64(len(r.b)) {
		r.fail("bad count")
		return 0
	}
	return int(n)
}

// done returns the first error, or an error when bytes are left over.
func (r *reader) done() error {
	if r.err == nil && len(r.b) != 0 {
		r.fail("trailing bytes")
	}
	return r.err
}
