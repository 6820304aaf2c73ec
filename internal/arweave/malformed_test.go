package arweave

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"testing"
)

// Offsets in a type-1 item with a target and an anchor.
const (
	offTargetFlag = 2 + 512 + 512
	offAnchorFlag = offTargetFlag + 33
	offTagCount   = offAnchorFlag + 33
	offTagBytes   = offTagCount + 8
	offTags       = offTagBytes + 8
)

// validRSAItem is a signed type-1 item with a target, an anchor, two tags and
// data.
func validRSAItem(t *testing.T) []byte {
	t.Helper()
	d, err := NewDataItem([]byte("payload"), testTarget, "00000000000000000000000000000001",
		[]Tag{{"Data-Protocol", "ao"}, {"Type", "Message"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Sign(testWallet(t)); err != nil {
		t.Fatal(err)
	}
	raw, err := d.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// rawItem lays out an item field by field, lies included.
func rawItem(sigType uint16, sigLen, ownerLen int, targetFlag, anchorFlag byte, tagCount, tagLen uint64, tags, data []byte) []byte {
	b := binary.LittleEndian.AppendUint16(nil, sigType)
	b = append(b, make([]byte, sigLen+ownerLen)...)
	for _, f := range []byte{targetFlag, anchorFlag} {
		b = append(b, f)
		if f == 1 {
			b = append(b, make([]byte, 32)...)
		}
	}
	b = binary.LittleEndian.AppendUint64(b, tagCount)
	b = binary.LittleEndian.AppendUint64(b, tagLen)
	b = append(b, tags...)
	return append(b, data...)
}

func edItem(tagCount uint64, tags []byte) []byte {
	return rawItem(SigTypeED25519, 64, 32, 0, 0, tagCount, uint64(len(tags)), tags, []byte("d"))
}

func with(raw []byte, f func(b []byte) []byte) []byte {
	return f(bytes.Clone(raw))
}

func TestMalformedItems(t *testing.T) {
	valid := validRSAItem(t)
	if len(valid) != offTags+len(EncodeTags([]Tag{{"Data-Protocol", "ao"}, {"Type", "Message"}}))+len("payload") {
		t.Fatalf("unexpected layout: %d bytes", len(valid))
	}
	setU64 := func(off int, v uint64) func([]byte) []byte {
		return func(b []byte) []byte { binary.LittleEndian.PutUint64(b[off:], v); return b }
	}
	tagLen := uint64(len(valid) - offTags - len("payload"))
	bigName := EncodeTags([]Tag{{strings.Repeat("n", 1025), "v"}})
	bigValue := EncodeTags([]Tag{{"n", strings.Repeat("v", 3073)}})
	tags129 := EncodeTags(make129Tags())
	tooManyBytes := EncodeTags([]Tag{{"A", strings.Repeat("v", 3000)}, {"B", strings.Repeat("v", 1100)}})

	cases := []struct {
		name string
		raw  []byte
		kind error
		want string
	}{
		{"empty", nil, ErrMalformed, "data item: truncated at offset 0: need 2 bytes for the signature type, have 0"},
		{"one byte", valid[:1], ErrMalformed, "data item: truncated at offset 0: need 2 bytes for the signature type, have 1"},
		{"no signature", valid[:2], ErrMalformed, "data item: truncated at offset 2: need 512 bytes for the arweave signature, have 0"},
		{"in signature", valid[:300], ErrMalformed, "data item: truncated at offset 2: need 512 bytes for the arweave signature, have 298"},
		{"in owner", valid[:700], ErrMalformed, "data item: truncated at offset 514: need 512 bytes for the arweave owner, have 186"},
		{"before target flag", valid[:offTargetFlag], ErrMalformed, fmt.Sprintf("data item: truncated at offset %d: need 1 bytes for the target presence byte, have 0", offTargetFlag)},
		{"in target", valid[:offTargetFlag+10], ErrMalformed, fmt.Sprintf("data item: truncated at offset %d: need 32 bytes for the target, have 9", offTargetFlag+1)},
		{"in anchor", valid[:offAnchorFlag+5], ErrMalformed, fmt.Sprintf("data item: truncated at offset %d: need 32 bytes for the anchor, have 4", offAnchorFlag+1)},
		{"in tag header", valid[:offTagCount+12], ErrMalformed, fmt.Sprintf("data item: truncated at offset %d: need 16 bytes for the tag count and tag byte count, have 12", offTagCount)},
		{"in tags", valid[:offTags+5], ErrMalformed, fmt.Sprintf("data item: truncated at offset %d: need %d bytes for the tags, have 5", offTags, tagLen)},
		{"in data", valid[:len(valid)-3], ErrInvalidSignature, "data item: signature does not verify"},
		{"flipped signature bit", with(valid, func(b []byte) []byte { b[100] ^= 1; return b }), ErrInvalidSignature, "data item: signature does not verify"},
		{"flipped owner bit", with(valid, func(b []byte) []byte { b[700] ^= 0x10; return b }), ErrInvalidSignature, "data item: signature does not verify"},
		{"flipped target bit", with(valid, func(b []byte) []byte { b[offTargetFlag+5] ^= 1; return b }), ErrInvalidSignature, "data item: signature does not verify"},
		{"flipped anchor bit", with(valid, func(b []byte) []byte { b[offAnchorFlag+5] ^= 1; return b }), ErrInvalidSignature, "data item: signature does not verify"},
		{"flipped tag bit", with(valid, func(b []byte) []byte { b[offTags+3] ^= 1; return b }), ErrInvalidSignature, "data item: signature does not verify"},
		{"flipped data bit", with(valid, func(b []byte) []byte { b[len(b)-1] ^= 1; return b }), ErrInvalidSignature, "data item: signature does not verify"},
		{"signature type changed", with(valid, func(b []byte) []byte { b[0] = 2; return b }), ErrMalformed, "data item:"},
		{"tag count lies (more)", with(valid, setU64(offTagCount, 3)), ErrMalformed, "data item: tag count 3 does not match the 2 tags encoded"},
		{"tag count lies (fewer)", with(valid, setU64(offTagCount, 1)), ErrMalformed, "data item: tag count 1 does not match the 2 tags encoded"},
		{"tag count lies (zero)", with(valid, setU64(offTagCount, 0)), ErrMalformed, "data item: tag count 0 does not match the 2 tags encoded"},
		{"tag bytes lie (past the end)", with(valid, setU64(offTagBytes, tagLen+100)), ErrMalformed, fmt.Sprintf("data item: truncated at offset %d: need %d bytes for the tags, have %d", offTags, tagLen+100, tagLen+7)},
		{"tag bytes lie (huge)", with(valid, setU64(offTagBytes, 1<<62)), ErrMalformed, fmt.Sprintf("data item: truncated at offset %d: need %d bytes for the tags", offTags, uint64(1)<<62)},
		{"tag bytes lie (short)", with(valid, setU64(offTagBytes, tagLen-3)), ErrMalformed, "data item: tags: value of tag 1: length 7 at byte"},
		{"tag bytes lie (long)", with(valid, setU64(offTagBytes, tagLen+2)), ErrMalformed, "data item: tags: 2 bytes after the end of the tag array"},
		{"tag bytes zero", with(valid, setU64(offTagBytes, 0)), ErrMalformed, "data item: tag count 2 does not match the 0 tags encoded"},
		{"tag count 129", with(valid, setU64(offTagCount, 129)), ErrMalformed, "data item: 129 tags, more than the 128 ANS-104 allows"},
		{"129 tags encoded", edItem(129, tags129), ErrMalformed, "data item: 129 tags, more than the 128 ANS-104 allows"},
		{"129 tags, count 128", edItem(128, tags129), ErrMalformed, "data item: tag count 128 does not match the 129 tags encoded"},
		{"tag name 1025 bytes", edItem(1, bigName), ErrMalformed, "data item: tag 0 name is 1025 bytes, more than the 1024 allowed"},
		{"tag value 3073 bytes", edItem(1, bigValue), ErrMalformed, `data item: tag 0 ("n") value is 3073 bytes, more than the 3072 allowed`},
		{"empty tag name", edItem(1, EncodeTags([]Tag{{"", "v"}})), ErrMalformed, "data item: tag 0 has an empty name"},
		{"tags over 4096 bytes", edItem(2, tooManyBytes), ErrMalformed, "data item: the tags take 4110 bytes, more than the 4096 arbundles accepts"},
		{"unknown signature type 9", with(valid, func(b []byte) []byte { b[0] = 9; return b }), ErrMalformed, "data item: unknown signature type 9"},
		{"unknown signature type 0", with(valid, func(b []byte) []byte { b[0] = 0; return b }), ErrMalformed, "data item: unknown signature type 0"},
		{"unknown signature type 257", with(valid, func(b []byte) []byte { b[1] = 1; return b }), ErrMalformed, "data item: unknown signature type 257"},
		{"target presence 2", with(valid, func(b []byte) []byte { b[offTargetFlag] = 2; return b }), ErrMalformed, fmt.Sprintf("data item: target presence byte at offset %d is 2, must be 0 or 1", offTargetFlag)},
		{"target presence 255", with(valid, func(b []byte) []byte { b[offTargetFlag] = 255; return b }), ErrMalformed, fmt.Sprintf("data item: target presence byte at offset %d is 255, must be 0 or 1", offTargetFlag)},
		{"anchor presence 5", with(valid, func(b []byte) []byte { b[offAnchorFlag] = 5; return b }), ErrMalformed, fmt.Sprintf("data item: anchor presence byte at offset %d is 5, must be 0 or 1", offAnchorFlag)},
		{"target flag cleared", with(valid, func(b []byte) []byte { b[offTargetFlag] = 0; return b }), ErrMalformed, "data item:"},
		{"ethereum bad owner", rawItem(SigTypeEthereum, 65, 65, 0, 0, 0, 0, nil, nil), ErrMalformed, "data item: signature does not verify"},
		{"rsa all zero", rawItem(SigTypeArweave, 512, 512, 0, 0, 0, 0, nil, nil), ErrInvalidSignature, "data item: signature does not verify"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d, err := ParseDataItem(c.raw)
			if err == nil {
				err = d.Verify()
			}
			if err == nil {
				t.Fatalf("accepted")
			}
			t.Log(err)
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q\n  want it to contain %q", err, c.want)
			}
			if !errors.Is(err, c.kind) {
				t.Errorf("error %q is not %v", err, c.kind)
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Errorf("error %q is not an *arweave.Error", err)
			}
		})
	}
	// Every truncation of a valid item fails, in parsing or in verifying.
	for n := 0; n < len(valid); n++ {
		d, err := ParseDataItem(valid[:n])
		if err == nil {
			err = d.Verify()
		}
		if err == nil {
			t.Fatalf("truncated to %d bytes: accepted", n)
		}
	}
}

func TestEthereumSignatureRules(t *testing.T) {
	eth := testEthereum(t)
	d, _ := NewDataItem([]byte("x"), "", "", nil)
	if err := d.Sign(eth); err != nil {
		t.Fatal(err)
	}
	if err := d.Verify(); err != nil {
		t.Fatal(err)
	}
	mutate := func(f func(sig []byte)) error {
		c := *d
		c.Signature = bytes.Clone(d.Signature)
		f(c.Signature)
		return c.Verify()
	}
	// v must be 27 or 28 and must be the right one.
	for _, v := range []byte{0, 1, 29} {
		err := mutate(func(s []byte) { s[64] = v })
		if !errors.Is(err, ErrInvalidSignature) || !strings.Contains(err.Error(), "recovery byte v") {
			t.Errorf("v=%d: %v", v, err)
		}
	}
	if err := mutate(func(s []byte) { s[64] ^= 27 ^ 28 }); !errors.Is(err, ErrInvalidSignature) {
		t.Errorf("the other v: %v", err)
	}
	// High s (n - s) is the same signature, but not canonical: arbundles
	// rejects it.
	err := mutate(func(s []byte) {
		var n, sv, hs [32]byte
		copy(n[:], secp256k1Order)
		copy(sv[:], s[32:64])
		borrow := 0
		for i := 31; i >= 0; i-- {
			x := int(n[i]) - int(sv[i]) - borrow
			borrow = 0
			if x < 0 {
				x += 256
				borrow = 1
			}
			hs[i] = byte(x)
		}
		copy(s[32:64], hs[:])
		s[64] ^= 27 ^ 28
	})
	if !errors.Is(err, ErrInvalidSignature) || !strings.Contains(err.Error(), "upper half") {
		t.Errorf("high s: %v", err)
	}
}

var secp256k1Order = []byte{
	0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe,
	0xba, 0xae, 0xdc, 0xe6, 0xaf, 0x48, 0xa0, 0x3b, 0xbf, 0xd2, 0x5e, 0x8c, 0xd0, 0x36, 0x41, 0x41,
}
