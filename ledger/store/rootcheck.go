package store

import (
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"os"

	"go.etcd.io/bbolt"
)

// checkRootPages reads the pages of the root bucket (the one holding the eight buckets of
// layout.go) straight from the file and refuses the file as ErrCorrupt unless every
// element of them lies inside its page.
//
// Why: bbolt keeps a small bucket inline, inside its value in the root's leaf page, and
// when that value is not 8-byte aligned it copies it to the Go heap and reads the inline
// page there, trusting the element offsets it holds. In a damaged file those offsets make
// bbolt hand out keys and values that point past the copy into other heap objects: reads
// then return bytes of unrelated memory, and a collection that finds such a slice live
// while it points into a freed object ends the process ("found pointer to free object"),
// which no recover can stop. Offsets into the memory map itself are harmless by
// comparison (a fault there is a panic that guarded turns into ErrCorrupt), so only the
// pages above the buckets need this check, once, before bbolt opens any bucket.
//
// The page and meta layout read here is bbolt's on-disk format (go.etcd.io/bbolt
// internal/common: page.go, meta.go, bucket.go), stable since bbolt's first release.
func checkRootPages(db *bbolt.DB) error {
	f, err := os.Open(db.Path())
	if err != nil {
		return fmt.Errorf("store: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("store: %w", err)
	}
	r := pageReader{f: f, size: fi.Size(), pageSize: int64(db.Info().PageSize)}
	m, err := r.meta()
	if err != nil {
		return err
	}
	r.highWater = m.highWater
	if err := r.checkTree(m.root, 0); err != nil {
		return fmt.Errorf("%w: %s: the root bucket's pages: %v: it is damaged; restore it from a backup", ErrCorrupt, db.Path(), err)
	}
	return nil
}

// bbolt's page header: id uint64, flags uint16, count uint16, overflow uint32.
const (
	pageHeaderSize  = 16
	pageElementSize = 16 // a leaf element (flags, pos, ksize, vsize) and a branch element (pos, ksize, pgid) alike
	branchPageFlag  = 0x01
	leafPageFlag    = 0x02
	bucketLeafFlag  = 0x01 // an element of a leaf page that is a bucket
	bucketHeader    = 16   // a bucket value: root pgid uint64, sequence uint64; an inline page follows when root is 0
	maxRootDepth    = 4    // eight buckets fit one leaf; a few levels of branches leave room for large inline ones
	boltMagic       = 0xED0CDAED
	boltVersion     = 2
)

type pageReader struct {
	f              *os.File
	size, pageSize int64
	highWater      uint64 // pages in use: the meta's pgid
	pagesRead      int
}

type rootMeta struct{ root, highWater, txid, pageSize uint64 }

// parseMeta reads the meta of a meta page's first pageHeaderSize+64 bytes; ok is false
// unless its magic, version and checksum are bbolt's.
func parseMeta(b []byte) (m rootMeta, ok bool) {
	b = b[pageHeaderSize:]
	le := binary.LittleEndian
	sum := fnv.New64a()
	sum.Write(b[:56])
	if le.Uint32(b[0:]) != boltMagic || le.Uint32(b[4:]) != boltVersion || le.Uint64(b[56:]) != sum.Sum64() {
		return m, false
	}
	return rootMeta{root: le.Uint64(b[16:]), highWater: le.Uint64(b[40:]), txid: le.Uint64(b[48:]), pageSize: uint64(le.Uint32(b[8:]))}, true
}

// meta is the meta page bbolt uses: of the two with a valid magic, version and checksum,
// the one of the higher transaction id (bbolt's DB.meta).
func (r *pageReader) meta() (rootMeta, error) {
	var best rootMeta
	found := false
	for i := range int64(2) {
		b := make([]byte, pageHeaderSize+64)
		if _, err := r.f.ReadAt(b, i*r.pageSize); err != nil {
			continue // bbolt opened the file, so the other one is valid
		}
		c, ok := parseMeta(b)
		if !ok {
			continue
		}
		if !found || c.txid > best.txid {
			best, found = c, true
		}
	}
	if !found {
		return best, fmt.Errorf("%w: no valid meta page: it is damaged; restore it from a backup", ErrCorrupt)
	}
	return best, nil
}

// page reads page id with its overflow pages.
func (r *pageReader) page(id uint64) ([]byte, error) {
	if r.pagesRead++; r.pagesRead > 64 {
		return nil, fmt.Errorf("more than 64 pages above the buckets")
	}
	if id < 2 || id >= r.highWater {
		return nil, fmt.Errorf("page %d is outside the %d pages in use", id, r.highWater)
	}
	head := make([]byte, pageHeaderSize)
	if _, err := r.f.ReadAt(head, int64(id)*r.pageSize); err != nil {
		return nil, fmt.Errorf("page %d: %v", id, err)
	}
	le := binary.LittleEndian
	overflow := uint64(le.Uint32(head[12:]))
	if got := le.Uint64(head); got != id {
		return nil, fmt.Errorf("page %d says it is page %d", id, got)
	}
	if id+overflow >= r.highWater || overflow > 256 {
		return nil, fmt.Errorf("page %d has %d overflow pages", id, overflow)
	}
	b := make([]byte, int64(1+overflow)*r.pageSize)
	if _, err := r.f.ReadAt(b, int64(id)*r.pageSize); err != nil {
		return nil, fmt.Errorf("page %d: %v", id, err)
	}
	return b, nil
}

// checkTree checks the branch or leaf page id of the root bucket and the pages below it.
func (r *pageReader) checkTree(id uint64, depth int) error {
	if depth > maxRootDepth {
		return fmt.Errorf("more than %d levels", maxRootDepth)
	}
	p, err := r.page(id)
	if err != nil {
		return err
	}
	le := binary.LittleEndian
	switch flags := le.Uint16(p[8:]); flags {
	case leafPageFlag:
		return checkLeaf(p, true, r.highWater)
	case branchPageFlag:
		count := int(le.Uint16(p[10:]))
		if count == 0 || pageHeaderSize+count*pageElementSize > len(p) {
			return fmt.Errorf("branch page %d has %d elements", id, count)
		}
		for i := range count {
			e := pageHeaderSize + i*pageElementSize
			pos, ksize := uint64(le.Uint32(p[e:])), uint64(le.Uint32(p[e+4:]))
			if uint64(e)+pos+ksize > uint64(len(p)) {
				return fmt.Errorf("branch page %d: element %d lies outside the page", id, i)
			}
			if err := r.checkTree(le.Uint64(p[e+8:]), depth+1); err != nil {
				return err
			}
		}
		return nil
	default:
		return fmt.Errorf("page %d has flags %#x, not a branch or leaf page", id, flags)
	}
}

// checkLeaf checks that every element of leaf page p lies inside it and, when buckets
// says the page is the root bucket's, that every bucket value is whole and every inline
// bucket's page is itself a leaf whose elements lie inside the value (and hold no bucket:
// bbolt never inlines a bucket that has one).
func checkLeaf(p []byte, buckets bool, highWater uint64) error {
	le := binary.LittleEndian
	count := int(le.Uint16(p[10:]))
	if pageHeaderSize+count*pageElementSize > len(p) {
		return fmt.Errorf("a leaf page has %d elements in %d bytes", count, len(p))
	}
	for i := range count {
		e := pageHeaderSize + i*pageElementSize
		flags := le.Uint32(p[e:])
		pos, ksize, vsize := uint64(le.Uint32(p[e+4:])), uint64(le.Uint32(p[e+8:])), uint64(le.Uint32(p[e+12:]))
		start := uint64(e) + pos
		if start+ksize+vsize > uint64(len(p)) {
			return fmt.Errorf("leaf element %d lies outside its page", i)
		}
		if flags&bucketLeafFlag == 0 {
			continue
		}
		if !buckets {
			return fmt.Errorf("leaf element %d of an inline bucket is a bucket", i)
		}
		v := p[start+ksize : start+ksize+vsize]
		if len(v) < bucketHeader {
			return fmt.Errorf("bucket %q: a value of %d bytes", p[start:start+ksize], len(v))
		}
		if root := le.Uint64(v); root != 0 {
			if root < 2 || root >= highWater {
				return fmt.Errorf("bucket %q: root page %d is outside the %d pages in use", p[start:start+ksize], root, highWater)
			}
			continue // its pages are in the memory map, where bbolt's reads stay
		}
		inline := v[bucketHeader:]
		if len(inline) < pageHeaderSize || le.Uint16(inline[8:]) != leafPageFlag {
			return fmt.Errorf("bucket %q: its inline page is not a leaf", p[start:start+ksize])
		}
		if err := checkLeaf(inline, false, highWater); err != nil {
			return fmt.Errorf("bucket %q: %v", p[start:start+ksize], err)
		}
	}
	return nil
}
