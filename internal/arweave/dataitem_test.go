package arweave

import (
	"bytes"
	"errors"
	"slices"
	"strings"
	"testing"
)

var testTarget = B64Encode(bytes.Repeat([]byte{7}, 32))

// signers are one signer of each type this package can sign with.
func signers(t *testing.T) map[string]Signer {
	return map[string]Signer{
		"arweave":  testWallet(t),
		"ed25519":  testED25519(t),
		"ethereum": testEthereum(t),
	}
}

func TestSignParseVerifyRoundTrip(t *testing.T) {
	tags := []Tag{{"Data-Protocol", "ao"}, {"Type", "Message"}, {"Empty", ""}, {"Ünï", "cødé 🚀"}}
	for name, s := range signers(t) {
		for _, c := range []struct {
			label          string
			target, anchor string
			tags           []Tag
			data           []byte
		}{
			{"bare", "", "", nil, nil},
			{"full", testTarget, "00000000000000000000000000000001", tags, []byte("hello")},
			{"target-only", testTarget, "", tags[:1], bytes.Repeat([]byte{0, 1, 2}, 1000)},
			{"anchor-only", "", strings.Repeat("a", 32), nil, []byte{0}},
		} {
			t.Run(name+"/"+c.label, func(t *testing.T) {
				d, err := NewDataItem(c.data, c.target, c.anchor, c.tags)
				if err != nil {
					t.Fatal(err)
				}
				if d.ID() != "" {
					t.Errorf("unsigned item has id %q", d.ID())
				}
				if _, err := d.Bytes(); err == nil || err.Error() != "data item: not signed" {
					t.Errorf("Bytes of an unsigned item: %v", err)
				}
				if err := d.Sign(s); err != nil {
					t.Fatal(err)
				}
				if err := d.Verify(); err != nil {
					t.Fatal(err)
				}
				raw, err := d.Bytes()
				if err != nil {
					t.Fatal(err)
				}
				p, err := ParseDataItem(raw)
				if err != nil {
					t.Fatal(err)
				}
				if err := p.Verify(); err != nil {
					t.Fatal(err)
				}
				if p.ID() != d.ID() || p.SignatureType != s.SignatureType() || !bytes.Equal(p.Owner, s.PublicKey()) ||
					B64Encode(p.Target) != c.target || string(p.Anchor) != c.anchor || !bytes.Equal(p.Data, c.data) {
					t.Errorf("parsed item differs from the signed one")
				}
				if !slices.Equal(p.Tags, c.tags) {
					t.Errorf("tags %q, want %q", p.Tags, c.tags)
				}
				if s.SignatureType() == SigTypeArweave {
					if got := pssSaltLength(t, p.Owner, p.Signature); got != RSASaltLength {
						t.Errorf("salt length %d, want %d", got, RSASaltLength)
					}
				}
				// Changing anything signed breaks the signature.
				p.Tags = append(p.Tags, Tag{"Extra", "1"})
				if err := p.Verify(); !errors.Is(err, ErrInvalidSignature) {
					t.Errorf("verify after adding a tag: %v, want ErrInvalidSignature", err)
				}
			})
		}
	}
}

func TestOwnerAddress(t *testing.T) {
	w := testWallet(t)
	for _, s := range []struct {
		s    Signer
		want string
	}{
		{w, w.Address()},
		{testED25519(t), testED25519(t).Address()},
		{testEthereum(t), testEthereum(t).Address()},
	} {
		d, _ := NewDataItem(nil, "", "", nil)
		if err := d.Sign(s.s); err != nil {
			t.Fatal(err)
		}
		if got := d.OwnerAddress(); got != s.want {
			t.Errorf("type %d owner address %s, want %s", d.SignatureType, got, s.want)
		}
	}
	if a := testEthereum(t).Address(); !strings.HasPrefix(a, "0x") || len(a) != 42 || a == strings.ToLower(a) {
		t.Errorf("ethereum address %q is not an EIP-55 address", a)
	}
}

func TestNewDataItemRejects(t *testing.T) {
	for _, c := range []struct {
		target, anchor string
		tags           []Tag
		want           string
	}{
		{target: "short", want: "is not a base64url 32-byte address"},
		{target: "!!!!", want: "is not a base64url 32-byte address"},
		{anchor: "too short", want: "anchor is 9 bytes, it must be 32"},
		{tags: []Tag{{"", "v"}}, want: "tag 0 has an empty name"},
		{tags: []Tag{{strings.Repeat("n", 1025), "v"}}, want: "tag 0 name is 1025 bytes, more than the 1024 allowed"},
		{tags: []Tag{{"A", "ok"}, {"B", strings.Repeat("v", 3073)}}, want: `tag 1 ("B") value is 3073 bytes, more than the 3072 allowed`},
		{tags: make129Tags(), want: "129 tags, more than the 128 ANS-104 allows"},
		{tags: []Tag{{"A", strings.Repeat("v", 3000)}, {"B", strings.Repeat("v", 1100)}}, want: "the tags take 4110 bytes encoded, more than the 4096 arbundles accepts"},
	} {
		_, err := NewDataItem(nil, c.target, c.anchor, c.tags)
		if err == nil || !strings.Contains(err.Error(), c.want) || !errors.Is(err, ErrMalformed) {
			t.Errorf("NewDataItem(target %q, anchor %q, %d tags): %v, want an ErrMalformed with %q", c.target, c.anchor, len(c.tags), err, c.want)
		}
		if err != nil && !strings.HasPrefix(err.Error(), "data item: ") {
			t.Errorf("error %q lacks the data item prefix", err)
		}
	}
}

func make129Tags() []Tag {
	tags := make([]Tag, 129)
	for i := range tags {
		tags[i] = Tag{"T", "v"}
	}
	return tags
}

func TestTagsCodec(t *testing.T) {
	tags := []Tag{{"a", "b"}, {"Name", strings.Repeat("x", 200)}, {"E", ""}}
	enc := EncodeTags(tags)
	dec, err := DecodeTags(enc)
	if err != nil || !slices.Equal(dec, tags) {
		t.Fatalf("round trip: %q, %v", dec, err)
	}
	if EncodeTags(nil) != nil {
		t.Errorf("no tags should encode to no bytes")
	}
	// Other valid Avro encodings of the same array: two blocks, and a block
	// with a negative count followed by its byte size.
	two := appendLong(nil, 1)
	two = appendLong(two, 1)
	two = append(two, 'a')
	two = appendLong(two, 1)
	two = append(two, 'b')
	two = appendLong(two, 1)
	two = appendLong(two, 1)
	two = append(two, 'c')
	two = appendLong(two, 0)
	two = appendLong(two, 0)
	neg := appendLong(nil, -2)
	neg = appendLong(neg, 6)
	for _, s := range []string{"a", "b", "c", ""} {
		neg = appendLong(neg, int64(len(s)))
		neg = append(neg, s...)
	}
	neg = appendLong(neg, 0)
	for name, b := range map[string][]byte{"two blocks": two, "negative count": neg} {
		got, err := DecodeTags(b)
		if err != nil || !slices.Equal(got, []Tag{{"a", "b"}, {"c", ""}}) {
			t.Errorf("%s: %q, %v", name, got, err)
		}
	}
	if got, err := DecodeTags([]byte{0}); err != nil || len(got) != 0 {
		t.Errorf("empty array: %q, %v", got, err)
	}
	for _, c := range []struct {
		b    []byte
		want string
	}{
		{[]byte{2}, "tags: block at byte 0 claims 1 tags but only 0 bytes follow"},
		{[]byte{2, 0x80, 0x80}, "tags: name of tag 0: length at byte 1: truncated varint"},
		{[]byte{2, 2, 'a', 0x80}, "tags: value of tag 0: length at byte 3: truncated varint"},
		{[]byte{2, 10, 'a'}, "tags: name of tag 0: length 5 at byte 1 runs past the end of the tags (1 bytes left)"},
		{[]byte{2, 1, 'a'}, "tags: name of tag 0: length at byte 1 is negative (-1)"},
		{append(EncodeTags(tags), 9), "tags: 1 bytes after the end of the tag array"},
		{[]byte{0x80}, "tags: block count at byte 0: truncated varint"},
		{bytes.Repeat([]byte{0xff}, 11), "varint overflows 64 bits"},
		{[]byte{200, 1, 2, 'a', 2, 'b', 0}, "tags: block at byte 0 claims 100 tags but only 5 bytes follow"},
	} {
		_, err := DecodeTags(c.b)
		if err == nil || !strings.Contains(err.Error(), c.want) || !errors.Is(err, ErrMalformed) {
			t.Errorf("DecodeTags(%x): %v, want %q", c.b, err, c.want)
		}
	}
}

func TestDeepHashShapes(t *testing.T) {
	// The same data as []any and [][]byte, and a string as its bytes.
	a := DeepHash([]any{[]byte("x"), []byte("yz")})
	b := DeepHash([][]byte{[]byte("x"), []byte("yz")})
	c := DeepHash([]any{"x", "yz"})
	if a != b || a != c {
		t.Errorf("equivalent inputs hash differently")
	}
	if DeepHash([]any{}) == DeepHash([]byte{}) {
		t.Errorf("empty list and empty blob hash alike")
	}
	defer func() {
		if recover() == nil {
			t.Errorf("DeepHash(int) did not panic")
		}
	}()
	DeepHash(42)
}

func TestUnsupportedVerify(t *testing.T) {
	for _, typ := range []int{SigTypeInjectedAptos, SigTypeMultiAptos, SigTypeTypedEthereum} {
		sigLen, ownerLen, _ := SignatureLengths(typ)
		d := &DataItem{SignatureType: typ, Signature: make([]byte, sigLen), Owner: make([]byte, ownerLen)}
		raw, err := d.Bytes()
		if err != nil {
			t.Fatal(err)
		}
		p, err := ParseDataItem(raw)
		if err != nil {
			t.Fatalf("type %d: parse: %v", typ, err)
		}
		if err := p.Verify(); !errors.Is(err, ErrUnsupported) {
			t.Errorf("type %d: verify: %v, want ErrUnsupported", typ, err)
		}
	}
}

func TestSolanaVerify(t *testing.T) {
	// Type 4 signs the hex text of the deep hash (arbundles' HexSolanaSigner).
	ed := testED25519(t)
	d, _ := NewDataItem([]byte("sol"), "", "", []Tag{{"A", "b"}})
	d.SignatureType = SigTypeSolana
	d.Owner = ed.PublicKey()
	msg := d.SignatureData()
	d.Signature, _ = ed.Sign([]byte(hexString(msg[:])))
	if err := d.Verify(); err != nil {
		t.Fatal(err)
	}
	d.Signature, _ = ed.Sign(msg[:])
	if err := d.Verify(); !errors.Is(err, ErrInvalidSignature) {
		t.Errorf("raw-message signature under type 4: %v, want ErrInvalidSignature", err)
	}
}

func hexString(b []byte) string {
	const digits = "0123456789abcdef"
	out := make([]byte, 0, 2*len(b))
	for _, c := range b {
		out = append(out, digits[c>>4], digits[c&15])
	}
	return string(out)
}

func TestTagValue(t *testing.T) {
	d, _ := NewDataItem(nil, "", "", []Tag{{"Type", "Message"}, {"Type", "Second"}})
	if v, ok := d.TagValue("Type"); !ok || v != "Message" {
		t.Errorf("TagValue(Type) = %q, %v", v, ok)
	}
	if _, ok := d.TagValue("Missing"); ok {
		t.Errorf("TagValue(Missing) found something")
	}
}
