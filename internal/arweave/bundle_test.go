package arweave

import (
	"bytes"
	"encoding/binary"
	"errors"
	"strings"
	"testing"
)

func signedItems(t *testing.T) []*DataItem {
	t.Helper()
	var items []*DataItem
	for i, s := range []Signer{testWallet(t), testED25519(t), testEthereum(t)} {
		d, err := NewDataItem(bytes.Repeat([]byte{byte(i)}, 10*i), testTarget, "", []Tag{{"N", string(rune('a' + i))}})
		if err != nil {
			t.Fatal(err)
		}
		if err := d.Sign(s); err != nil {
			t.Fatal(err)
		}
		items = append(items, d)
	}
	return items
}

func TestBundleRoundTrip(t *testing.T) {
	items := signedItems(t)
	for n := 0; n <= len(items); n++ {
		b, err := BuildBundle(items[:n])
		if err != nil {
			t.Fatal(err)
		}
		got, err := ParseBundle(b)
		if err != nil {
			t.Fatalf("%d items: %v", n, err)
		}
		if len(got) != n {
			t.Fatalf("%d items back, want %d", len(got), n)
		}
		for i, d := range got {
			if d.ID() != items[i].ID() {
				t.Errorf("item %d id %s, want %s", i, d.ID(), items[i].ID())
			}
			if err := d.Verify(); err != nil {
				t.Errorf("item %d: %v", i, err)
			}
		}
		again, _ := BuildBundle(got)
		if !bytes.Equal(again, b) {
			t.Errorf("%d items: rebuilding the parsed bundle changes it", n)
		}
	}
	if _, err := BuildBundle([]*DataItem{{SignatureType: SigTypeArweave}}); err == nil || !strings.Contains(err.Error(), "bundle: item 0: data item:") {
		t.Errorf("bundling an unsigned item: %v", err)
	}
}

func TestMalformedBundles(t *testing.T) {
	items := signedItems(t)
	valid, err := BuildBundle(items)
	if err != nil {
		t.Fatal(err)
	}
	size0 := binary.LittleEndian.Uint64(valid[32:])
	body := 32 + 64*3
	mod := func(f func(b []byte) []byte) []byte { return f(bytes.Clone(valid)) }
	for _, c := range []struct {
		name string
		raw  []byte
		want string
	}{
		{"empty", nil, "bundle: truncated at offset 0: need 32 bytes for the item count, have 0"},
		{"short count", valid[:20], "need 32 bytes for the item count, have 20"},
		{"count lies", mod(func(b []byte) []byte { b[0] = 200; return b }), "bundle: item count 200 needs 12800 header bytes"},
		{"count huge", mod(func(b []byte) []byte { b[31] = 1; return b }), "bundle: item count 0x01000000"},
		{"headers truncated", valid[:32+64*2], "bundle: item count 3 needs 192 header bytes, only 128 bytes follow"},
		{"item truncated", valid[:len(valid)-5], "bundle: item 2 (id "},
		{"size too large", mod(func(b []byte) []byte { binary.LittleEndian.PutUint64(b[32:], 1<<40); return b }), "bundle: item 0 (id "},
		{"size too small", mod(func(b []byte) []byte { binary.LittleEndian.PutUint64(b[32:], size0-1); return b }), "bundle: item 0 (at offset 224): data item: truncated at offset"},
		{"wrong id", mod(func(b []byte) []byte { b[32+40] ^= 1; return b }), "bundle: item 0 header id"},
		{"trailing bytes", append(bytes.Clone(valid), 1, 2, 3), "bundle: 3 bytes after the last item"},
		{"bad item", mod(func(b []byte) []byte { b[body] = 9; return b }), "bundle: item 0 (at offset 224): data item: unknown signature type 9"},
	} {
		_, err := ParseBundle(c.raw)
		if err == nil || !strings.Contains(err.Error(), c.want) || !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: %v\n  want an ErrMalformed with %q", c.name, err, c.want)
		} else {
			t.Logf("%s: %v", c.name, err)
		}
	}
}
