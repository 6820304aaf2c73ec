package arweave

import "fmt"

// Tag limits. MaxTags, MaxTagNameBytes and MaxTagValueBytes are ANS-104's;
// MaxTagsBytes is arbundles' (its encoder's buffer, and DataItem.verify
// rejects more).
const (
	MaxTags          = 128
	MaxTagNameBytes  = 1024
	MaxTagValueBytes = 3072
	MaxTagsBytes     = 4096
)

// Tag is one ANS-104 tag. Name and Value hold the raw bytes (normally UTF-8).
type Tag struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// EncodeTags encodes tags in ANS-104's Avro form, exactly as arbundles does:
// no tags encode to no bytes; otherwise one block (zig-zag varint count), each
// tag as name then value (zig-zag varint length, then the bytes), and a 0
// count ending the array. It does not check the limits (see ValidateTags).
func EncodeTags(tags []Tag) []byte {
	if len(tags) == 0 {
		return nil
	}
	n := 2 * binaryVarintLen(int64(len(tags)))
	for _, t := range tags {
		n += binaryVarintLen(int64(len(t.Name))) + len(t.Name) + binaryVarintLen(int64(len(t.Value))) + len(t.Value)
	}
	b := make([]byte, 0, n)
	b = appendLong(b, int64(len(tags)))
	for _, t := range tags {
		b = appendLong(b, int64(len(t.Name)))
		b = append(b, t.Name...)
		b = appendLong(b, int64(len(t.Value)))
		b = append(b, t.Value...)
	}
	return appendLong(b, 0)
}

// DecodeTags decodes the Avro tag array of a data item. It accepts any valid
// Avro array encoding (several blocks, negative block counts followed by a
// byte size) and rejects truncated input and bytes after the array's end.
// Empty input is no tags. It does not check the limits (see ValidateTags).
func DecodeTags(b []byte) ([]Tag, error) {
	if len(b) == 0 {
		return nil, nil
	}
	var tags []Tag
	pos := 0
	for {
		start := pos
		count, err := readLong(b, &pos)
		if err != nil {
			return nil, errorf(ErrMalformed, "tags: block count at byte %d: %v", start, err)
		}
		if count == 0 {
			break
		}
		if count < 0 {
			if count == -1<<63 {
				return nil, errorf(ErrMalformed, "tags: block count at byte %d is out of range", start)
			}
			count = -count
			sizeAt := pos
			size, err := readLong(b, &pos)
			if err != nil {
				return nil, errorf(ErrMalformed, "tags: block size at byte %d: %v", sizeAt, err)
			}
			if size < 0 {
				return nil, errorf(ErrMalformed, "tags: block size at byte %d is negative (%d)", sizeAt, size)
			}
		}
		// Every tag takes at least 2 bytes, so a count beyond that is a lie;
		// checking it here keeps a hostile count from driving allocation.
		if count > int64(len(b)-pos)/2 {
			return nil, errorf(ErrMalformed, "tags: block at byte %d claims %d tags but only %d bytes follow", start, count, len(b)-pos)
		}
		for i := int64(0); i < count; i++ {
			name, err := readBytes(b, &pos)
			if err != nil {
				return nil, errorf(ErrMalformed, "tags: name of tag %d: %v", len(tags), err)
			}
			value, err := readBytes(b, &pos)
			if err != nil {
				return nil, errorf(ErrMalformed, "tags: value of tag %d: %v", len(tags), err)
			}
			tags = append(tags, Tag{Name: string(name), Value: string(value)})
		}
	}
	if pos != len(b) {
		return nil, errorf(ErrMalformed, "tags: %d bytes after the end of the tag array (at byte %d)", len(b)-pos, pos)
	}
	return tags, nil
}

// ValidateTags checks tags against the limits: at most MaxTags tags, names of
// 1 to MaxTagNameBytes bytes, values of at most MaxTagValueBytes bytes, and at
// most MaxTagsBytes bytes once encoded.
func ValidateTags(tags []Tag) error {
	if len(tags) > MaxTags {
		return errorf(ErrMalformed, "%d tags, more than the %d ANS-104 allows", len(tags), MaxTags)
	}
	for i, t := range tags {
		if t.Name == "" {
			return errorf(ErrMalformed, "tag %d has an empty name", i)
		}
		if len(t.Name) > MaxTagNameBytes {
			return errorf(ErrMalformed, "tag %d name is %d bytes, more than the %d allowed", i, len(t.Name), MaxTagNameBytes)
		}
		if len(t.Value) > MaxTagValueBytes {
			return errorf(ErrMalformed, "tag %d (%s) value is %d bytes, more than the %d allowed", i, shorten(t.Name), len(t.Value), MaxTagValueBytes)
		}
	}
	if n := len(EncodeTags(tags)); n > MaxTagsBytes {
		return errorf(ErrMalformed, "the tags take %d bytes encoded, more than the %d arbundles accepts", n, MaxTagsBytes)
	}
	return nil
}

func shorten(s string) string {
	if len(s) > 40 {
		s = s[:40] + "..."
	}
	return fmt.Sprintf("%q", s)
}

func binaryVarintLen(n int64) int {
	u := uint64(n<<1) ^ uint64(n>>63)
	l := 1
	for u >= 0x80 {
		u >>= 7
		l++
	}
	return l
}

// appendLong appends n as an Avro long: zig-zag, then a little-endian base-128
// varint.
func appendLong(b []byte, n int64) []byte {
	u := uint64(n<<1) ^ uint64(n>>63)
	for u >= 0x80 {
		b = append(b, byte(u)|0x80)
		u >>= 7
	}
	return append(b, byte(u))
}

func readLong(b []byte, pos *int) (int64, error) {
	var u uint64
	for shift := uint(0); ; shift += 7 {
		if *pos >= len(b) {
			return 0, fmt.Errorf("truncated varint")
		}
		c := b[*pos]
		*pos++
		if shift == 63 && c > 1 {
			return 0, fmt.Errorf("varint overflows 64 bits")
		}
		u |= uint64(c&0x7f) << shift
		if c < 0x80 {
			break
		}
	}
	return int64(u>>1) ^ -int64(u&1), nil
}

func readBytes(b []byte, pos *int) ([]byte, error) {
	at := *pos
	n, err := readLong(b, pos)
	if err != nil {
		return nil, fmt.Errorf("length at byte %d: %v", at, err)
	}
	if n < 0 {
		return nil, fmt.Errorf("length at byte %d is negative (%d)", at, n)
	}
	if n > int64(len(b)-*pos) {
		return nil, fmt.Errorf("length %d at byte %d runs past the end of the tags (%d bytes left)", n, at, len(b)-*pos)
	}
	s := b[*pos : *pos+int(n)]
	*pos += int(n)
	return s, nil
}
