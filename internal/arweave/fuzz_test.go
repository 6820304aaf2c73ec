package arweave

import (
	"bytes"
	"testing"
)

// FuzzParseDataItem: parsing never panics, and whatever parses re-encodes to
// the same bytes and survives Verify without panicking. Run longer with
//
//	go test -run '^$' -fuzz FuzzParseDataItem -fuzztime 60s ./internal/arweave/
func FuzzParseDataItem(f *testing.F) {
	v := loadVectors(f)
	for _, it := range v.Items {
		if raw := mustB64(f, it.Raw); len(raw) < 20000 {
			f.Add(raw)
		}
	}
	f.Add([]byte{})
	f.Add([]byte{1, 0})
	f.Add(edItem(2, EncodeTags([]Tag{{"a", "b"}, {"c", ""}})))
	f.Add(edItem(1, []byte{1, 2, 'a', 2, 'b', 0}))
	f.Add(rawItem(SigTypeEthereum, 65, 65, 1, 1, 0, 0, nil, []byte("data")))
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := ParseDataItem(b)
		if err != nil {
			if d != nil {
				t.Fatalf("error with an item: %v", err)
			}
			return
		}
		again, err := d.Bytes()
		if err != nil {
			t.Fatalf("parsed item does not encode: %v", err)
		}
		if !bytes.Equal(again, b) {
			t.Fatalf("re-encoding changes the item")
		}
		_ = d.Verify()
		_ = d.ID()
		_ = d.OwnerAddress()
	})
}

// FuzzDecodeTags: decoding never panics, and what decodes passes a
// canonical round trip.
func FuzzDecodeTags(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{0})
	f.Add(EncodeTags([]Tag{{"Data-Protocol", "ao"}, {"Type", "Message"}}))
	f.Add([]byte{3, 4, 2, 'a', 2, 'b', 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		tags, err := DecodeTags(b)
		if err != nil {
			return
		}
		back, err := DecodeTags(EncodeTags(tags))
		if err != nil || len(back) != len(tags) {
			t.Fatalf("canonical round trip: %v (%d vs %d tags)", err, len(back), len(tags))
		}
		for i := range tags {
			if back[i] != tags[i] {
				t.Fatalf("tag %d changed", i)
			}
		}
	})
}

// FuzzParseBundle: parsing never panics.
func FuzzParseBundle(f *testing.F) {
	v := loadVectors(f)
	for _, b := range v.Bundles {
		f.Add(mustB64(f, b.Raw))
	}
	f.Add(make([]byte, 32))
	f.Fuzz(func(t *testing.T, b []byte) {
		items, err := ParseBundle(b)
		if err == nil {
			if _, err := BuildBundle(items); err != nil {
				t.Fatalf("parsed bundle does not rebuild: %v", err)
			}
		}
	})
}
