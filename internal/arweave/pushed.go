package arweave

import (
	"encoding/base64"
	"encoding/binary"
)

// PushedMessageDeepHash is the reference CU's id for a message an MU pushed:
// the std base64 deep hash of what warp-arbundles' createData(data,
// {publicKey: empty, ownerLength: 0, signatureLength: 512, signatureType: 1},
// {tags, target, anchor}).getSignatureData() returns. createData lays the
// item out with an empty owner, but DataItem's getters read it back with the
// lengths of signature type 1 (a 512-byte owner), so the hashed fields are
// slices of the binary at those offsets; this reproduces that layout and
// those reads. target is nil or 32 bytes, anchor nil or 32 bytes.
func PushedMessageDeepHash(data, target, anchor []byte, tagList []Tag) string {
	var tags []byte
	if len(tagList) > 0 {
		tags = EncodeTags(tagList)
	}
	// createData's layout with signatureLength 512 and ownerLength 0.
	const sigLen, cfgOwnerLen = 512, 512
	var b []byte
	b = append(b, 1, 0) // signature type 1, little endian
	b = append(b, make([]byte, sigLen)...)
	if target != nil {
		b = append(b, 1)
		b = append(b, target...)
	} else {
		b = append(b, 0)
	}
	if anchor != nil {
		b = append(b, 1)
		b = append(b, anchor...)
	} else {
		b = append(b, 0)
	}
	b = binary.LittleEndian.AppendUint64(b, uint64(len(tagList)))
	b = binary.LittleEndian.AppendUint64(b, uint64(len(tags)))
	b = append(b, tags...)
	b = append(b, data...)
	// DataItem's getters, with type 1's lengths.
	sub := func(from, to int) []byte {
		from, to = min(max(from, 0), len(b)), min(max(to, 0), len(b))
		if from >= to {
			return []byte{}
		}
		return b[from:to]
	}
	at := func(i int) byte {
		if i < 0 || i >= len(b) {
			return 0
		}
		return b[i]
	}
	le := func(x []byte) uint64 { // byteArrayToLong over at most 8 bytes
		var v float64
		for i := len(x) - 1; i >= 0; i-- {
			v = v*256 + float64(x[i])
		}
		if v > 1<<53 {
			return 1 << 53
		}
		return uint64(v)
	}
	owner := sub(2+sigLen, 2+sigLen+cfgOwnerLen)
	targetStart := 2 + sigLen + cfgOwnerLen
	rawTarget := []byte{}
	if at(targetStart) == 1 {
		rawTarget = sub(targetStart+1, targetStart+33)
	}
	anchorStart := targetStart + 1
	if at(targetStart) == 1 {
		anchorStart += 32
	}
	rawAnchor := []byte{}
	if at(anchorStart) == 1 {
		rawAnchor = sub(anchorStart+1, anchorStart+33)
	}
	tagsStart := anchorStart + 1
	if at(anchorStart) == 1 {
		tagsStart += 32
	}
	n := le(sub(tagsStart+8, tagsStart+16))
	tagsEnd := tagsStart + 16 + int(min(n, uint64(len(b))))
	rawTags := sub(tagsStart+16, tagsEnd)
	rawData := sub(tagsEnd, len(b))
	h := DeepHash([]any{[]byte("dataitem"), []byte("1"), []byte("1"), owner, rawTarget, rawAnchor, rawTags, rawData})
	return base64.StdEncoding.EncodeToString(h[:])
}
