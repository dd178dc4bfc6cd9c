package store

import (
	"bytes"
	"fmt"

	"go.etcd.io/bbolt"

	"github.com/timebank/timebank/ledger"
)

// EditAccount decodes account id's stored record in tx, lets edit change it and stores it
// again: tamper tests (package store_test) change one field of a record behind the store's
// back without knowing its encoding.
func EditAccount(tx *bbolt.Tx, id ledger.AccountID, edit func(*ledger.Account)) error {
	t, err := tableOf(tx)
	if err != nil {
		return err
	}
	b := tx.Bucket(bucketState)
	a, err := decodeAccount(id, t, b.Get(accountKey(id)))
	if err != nil {
		return err
	}
	edit(a)
	v, err := encodeAccount(nil, t, a)
	if err != nil {
		return err
	}
	return b.Put(accountKey(id), v)
}

// EditEntry expands entry seq's stored bytes in tx, lets edit change them and stores them
// again, compressed with the file's dictionary: tamper tests change an entry's canonical
// bytes behind the store's back.
func EditEntry(tx *bbolt.Tx, seq uint64, edit func([]byte) []byte) error {
	p, err := newEntryPacker(tx.Bucket(bucketMeta).Get(metaDict))
	if err != nil {
		return err
	}
	defer p.close()
	b := tx.Bucket(bucketEntries)
	canonical, err := p.unpack(nil, b.Get(seqKey(seq)), seq)
	if err != nil {
		return err
	}
	return b.Put(seqKey(seq), p.pack(nil, edit(canonical)))
}

// EditHold changes hold id's stored record (tamper tests).
func EditHold(tx *bbolt.Tx, id uint64, edit func(*ledger.Hold)) error {
	t, err := tableOf(tx)
	if err != nil {
		return err
	}
	b := tx.Bucket(bucketHolds)
	h, err := decodeHold(id, t, b.Get(seqKey(id)))
	if err != nil {
		return err
	}
	edit(h)
	v, err := encodeHold(t, h)
	if err != nil {
		return err
	}
	return b.Put(seqKey(id), v)
}

// EditSession changes volunteer's first stored session (tamper tests); a changed start or
// seq moves the record to the key they make.
func EditSession(tx *bbolt.Tx, volunteer ledger.AccountID, edit func(*ledger.Session)) error {
	b := tx.Bucket(bucketState)
	prefix := sessionPrefix(volunteer)
	k, v := b.Cursor().Seek(prefix)
	if k == nil || !bytes.HasPrefix(k, prefix) {
		return fmt.Errorf("%s has no stored session", volunteer)
	}
	start, seq, err := parseSessionRest(k[len(prefix):])
	if err != nil {
		return err
	}
	s, err := decodeSession(start, seq, v)
	if err != nil {
		return err
	}
	if err := b.Delete(bytes.Clone(k)); err != nil {
		return err
	}
	edit(&s)
	return b.Put(sessionKey(volunteer, s.Start, s.Seq), encodeSession(nil, s))
}

// tableOf is the asset table of the file's genesis, which record encodings refer to.
func tableOf(tx *bbolt.Tx) (*assetTable, error) {
	assets, _, err := readPolicy(tx.Bucket(bucketMeta))
	if err != nil {
		return nil, err
	}
	return newAssetTable(assets), nil
}
