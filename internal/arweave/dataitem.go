package arweave

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"slices"
	"strconv"
)

// ANS-104 signature types.
const (
	SigTypeArweave       = 1 // RSA-PSS 4096, SHA-256
	SigTypeED25519       = 2
	SigTypeEthereum      = 3 // secp256k1, Ethereum personal-sign message
	SigTypeSolana        = 4 // ED25519 over the hex of the message
	SigTypeInjectedAptos = 5
	SigTypeMultiAptos    = 6
	SigTypeTypedEthereum = 7
)

type sigConfig struct {
	sigLen, ownerLen int
	name             string
}

// sigConfigs are arbundles' SIG_CONFIG: the signature and owner lengths of
// every type.
var sigConfigs = map[int]sigConfig{
	SigTypeArweave:       {512, 512, "arweave"},
	SigTypeED25519:       {64, 32, "ed25519"},
	SigTypeEthereum:      {65, 65, "ethereum"},
	SigTypeSolana:        {64, 32, "solana"},
	SigTypeInjectedAptos: {64, 32, "injectedAptos"},
	SigTypeMultiAptos:    {64*32 + 4, 32*32 + 1, "multiAptos"},
	SigTypeTypedEthereum: {65, 42, "typedEthereum"},
}

// SignatureLengths returns the signature and owner lengths of an ANS-104
// signature type, and false for an unknown type.
func SignatureLengths(sigType int) (sigLen, ownerLen int, ok bool) {
	c, ok := sigConfigs[sigType]
	return c.sigLen, c.ownerLen, ok
}

// DataItem is an ANS-104 data item. Target and Anchor are empty or exactly 32
// bytes; Target is an address (raw bytes; B64Encode gives the usual form) and
// Anchor is raw bytes (ao puts a 32-character string there).
//
// A parsed item keeps its tag bytes exactly as encoded (the signature covers
// them), so Bytes() of a parsed item is the parsed input; changing Tags makes
// the item encode them afresh.
type DataItem struct {
	SignatureType int
	Signature     []byte
	Owner         []byte
	Target        []byte
	Anchor        []byte
	Tags          []Tag
	Data          []byte

	rawTags   []byte // the encoded tags as parsed
	rawTagsOf []Tag  // Tags as they were when rawTags was set
}

// Signer signs data items.
type Signer interface {
	// SignatureType is the ANS-104 signature type (1 for Arweave).
	SignatureType() int
	// PublicKey is the owner field of the items it signs.
	PublicKey() []byte
	// Sign signs a message (a data item's 48-byte deep hash).
	Sign(message []byte) ([]byte, error)
}

// NewDataItem makes an unsigned data item. target is "" or a base64url
// address (32 bytes); anchor is "" or exactly 32 bytes, used as they are (as
// arbundles does). Sign it before Bytes.
func NewDataItem(data []byte, target, anchor string, tags []Tag) (*DataItem, error) {
	d := &DataItem{Data: data, Tags: slices.Clone(tags)}
	if target != "" {
		t, err := B64Decode(target)
		if err != nil || len(t) != 32 {
			return nil, errorf(ErrMalformed, "data item: target %q is not a base64url 32-byte address", target)
		}
		d.Target = t
	}
	if anchor != "" {
		if len(anchor) != 32 {
			return nil, errorf(ErrMalformed, "data item: anchor is %d bytes, it must be 32", len(anchor))
		}
		d.Anchor = []byte(anchor)
	}
	if err := ValidateTags(d.Tags); err != nil {
		return nil, prefixed("data item", err)
	}
	return d, nil
}

// ParseDataItem parses the binary form of a data item and checks its
// structure and the tag limits, not its signature (see Verify). The item's
// byte slices alias b.
func ParseDataItem(b []byte) (*DataItem, error) {
	need := func(off, n int, what string) error {
		if len(b)-off < n {
			return errorf(ErrMalformed, "data item: truncated at offset %d: need %d bytes for %s, have %d", off, n, what, len(b)-off)
		}
		return nil
	}
	if err := need(0, 2, "the signature type"); err != nil {
		return nil, err
	}
	d := &DataItem{SignatureType: int(binary.LittleEndian.Uint16(b))}
	cfg, ok := sigConfigs[d.SignatureType]
	if !ok {
		return nil, errorf(ErrMalformed, "data item: unknown signature type %d", d.SignatureType)
	}
	off := 2
	if err := need(off, cfg.sigLen, fmt.Sprintf("the %s signature", cfg.name)); err != nil {
		return nil, err
	}
	d.Signature = b[off : off+cfg.sigLen]
	off += cfg.sigLen
	if err := need(off, cfg.ownerLen, fmt.Sprintf("the %s owner", cfg.name)); err != nil {
		return nil, err
	}
	d.Owner = b[off : off+cfg.ownerLen]
	off += cfg.ownerLen

	for _, f := range []struct {
		name string
		dst  *[]byte
	}{{"target", &d.Target}, {"anchor", &d.Anchor}} {
		if err := need(off, 1, "the "+f.name+" presence byte"); err != nil {
			return nil, err
		}
		switch b[off] {
		case 0:
			off++
		case 1:
			off++
			if err := need(off, 32, "the "+f.name); err != nil {
				return nil, err
			}
			*f.dst = b[off : off+32]
			off += 32
		default:
			return nil, errorf(ErrMalformed, "data item: %s presence byte at offset %d is %d, must be 0 or 1", f.name, off, b[off])
		}
	}

	if err := need(off, 16, "the tag count and tag byte count"); err != nil {
		return nil, err
	}
	tagCount := binary.LittleEndian.Uint64(b[off:])
	tagBytes := binary.LittleEndian.Uint64(b[off+8:])
	off += 16
	if tagCount > MaxTags {
		return nil, errorf(ErrMalformed, "data item: %d tags, more than the %d ANS-104 allows", tagCount, MaxTags)
	}
	if tagBytes > uint64(len(b)-off) {
		return nil, errorf(ErrMalformed, "data item: truncated at offset %d: need %d bytes for the tags, have %d", off, tagBytes, len(b)-off)
	}
	if tagBytes > MaxTagsBytes {
		return nil, errorf(ErrMalformed, "data item: the tags take %d bytes, more than the %d arbundles accepts", tagBytes, MaxTagsBytes)
	}
	d.rawTags = b[off : off+int(tagBytes)]
	tags, err := DecodeTags(d.rawTags)
	if err != nil {
		return nil, prefixed("data item", err)
	}
	if uint64(len(tags)) != tagCount {
		return nil, errorf(ErrMalformed, "data item: tag count %d does not match the %d tags encoded", tagCount, len(tags))
	}
	if err := ValidateTags(tags); err != nil {
		return nil, prefixed("data item", err)
	}
	d.Tags = tags
	d.rawTagsOf = slices.Clone(tags)
	off += int(tagBytes)
	d.Data = b[off:]
	return d, nil
}

// encodedTags is the tag bytes the item carries: the parsed bytes while Tags
// is unchanged, else a fresh encoding.
func (d *DataItem) encodedTags() []byte {
	if d.rawTags != nil && slices.Equal(d.Tags, d.rawTagsOf) {
		return d.rawTags
	}
	return EncodeTags(d.Tags)
}

// RawID is sha256(signature), the item's id in bytes.
func (d *DataItem) RawID() [32]byte { return sha256.Sum256(d.Signature) }

// ID is the item's id: base64url(sha256(signature)). It is "" for an unsigned
// item.
func (d *DataItem) ID() string {
	if len(d.Signature) == 0 {
		return ""
	}
	id := d.RawID()
	return B64Encode(id[:])
}

// OwnerAddress is the owner's address as the ao CU computes it: the EIP-55
// Ethereum address ("0x...") for a 65-byte secp256k1 owner, otherwise
// base64url(sha256(owner)), the Arweave address (what the SU and gateways
// report for every type).
func (d *DataItem) OwnerAddress() string {
	if len(d.Owner) == sigConfigs[SigTypeEthereum].ownerLen {
		if a, err := EthereumAddress(d.Owner); err == nil {
			return a
		}
	}
	sum := sha256.Sum256(d.Owner)
	return B64Encode(sum[:])
}

// TagValue returns the value of the first tag called name.
func (d *DataItem) TagValue(name string) (string, bool) {
	for _, t := range d.Tags {
		if t.Name == name {
			return t.Value, true
		}
	}
	return "", false
}

// SignatureData is the message the owner signs: the deep hash of
// ["dataitem", "1", signature type in decimal, owner, target, anchor, encoded
// tags, data] (arbundles' getSignatureData).
func (d *DataItem) SignatureData() [48]byte {
	return DeepHash([]any{
		[]byte("dataitem"),
		[]byte("1"),
		[]byte(strconv.Itoa(d.SignatureType)),
		d.Owner,
		d.Target,
		d.Anchor,
		d.encodedTags(),
		d.Data,
	})
}

// check validates every field but the signature's value. signed says whether
// the signature must be there.
func (d *DataItem) check(signed bool) error {
	if signed && d.SignatureType == 0 && len(d.Signature) == 0 {
		return errorf(ErrMalformed, "data item: not signed")
	}
	cfg, ok := sigConfigs[d.SignatureType]
	if !ok {
		return errorf(ErrMalformed, "data item: unknown signature type %d", d.SignatureType)
	}
	if signed && len(d.Signature) != cfg.sigLen {
		return errorf(ErrMalformed, "data item: signature is %d bytes, type %d (%s) needs %d", len(d.Signature), d.SignatureType, cfg.name, cfg.sigLen)
	}
	if len(d.Owner) != cfg.ownerLen {
		return errorf(ErrMalformed, "data item: owner is %d bytes, type %d (%s) needs %d", len(d.Owner), d.SignatureType, cfg.name, cfg.ownerLen)
	}
	if n := len(d.Target); n != 0 && n != 32 {
		return errorf(ErrMalformed, "data item: target is %d bytes, must be 32 or absent", n)
	}
	if n := len(d.Anchor); n != 0 && n != 32 {
		return errorf(ErrMalformed, "data item: anchor is %d bytes, must be 32 or absent", n)
	}
	if err := ValidateTags(d.Tags); err != nil {
		return prefixed("data item", err)
	}
	return nil
}

// Verify checks the item's fields and its signature. Types 1 (Arweave), 2
// (ED25519), 3 (Ethereum) and 4 (Solana) can be verified; 5 to 7 give
// ErrUnsupported.
func (d *DataItem) Verify() error {
	if err := d.check(true); err != nil {
		return err
	}
	msg := d.SignatureData()
	var err error
	switch d.SignatureType {
	case SigTypeArweave:
		err = VerifyRSA(d.Owner, msg[:], d.Signature)
	case SigTypeED25519:
		if !ed25519.Verify(d.Owner, msg[:], d.Signature) {
			err = errorf(ErrInvalidSignature, "ED25519 signature does not verify")
		}
	case SigTypeSolana:
		// arbundles' HexSolanaSigner signs the hex text of the deep hash.
		if !ed25519.Verify(d.Owner, []byte(hex.EncodeToString(msg[:])), d.Signature) {
			err = errorf(ErrInvalidSignature, "ED25519 (hex message) signature does not verify")
		}
	case SigTypeEthereum:
		err = VerifyEthereum(d.Owner, msg[:], d.Signature)
	default:
		return errorf(ErrUnsupported, "data item: signature type %d (%s) cannot be verified by this package", d.SignatureType, sigConfigs[d.SignatureType].name)
	}
	if err != nil {
		return prefixed(fmt.Sprintf("data item: signature does not verify (id %s, type %d %s, owner %s)",
			d.ID(), d.SignatureType, sigConfigs[d.SignatureType].name, d.OwnerAddress()), err)
	}
	return nil
}

// Sign sets the item's signature type and owner from s and signs it.
func (d *DataItem) Sign(s Signer) error {
	d.SignatureType = s.SignatureType()
	cfg, ok := sigConfigs[d.SignatureType]
	if !ok {
		return errorf(ErrUnsupported, "data item: signer has unknown signature type %d", d.SignatureType)
	}
	d.Owner = slices.Clone(s.PublicKey())
	d.Signature = nil
	if err := d.check(false); err != nil {
		return err
	}
	msg := d.SignatureData()
	sig, err := s.Sign(msg[:])
	if err != nil {
		return fmt.Errorf("data item: sign: %w", err)
	}
	if len(sig) != cfg.sigLen {
		return errorf(ErrMalformed, "data item: signer made a %d-byte signature, type %d (%s) needs %d", len(sig), d.SignatureType, cfg.name, cfg.sigLen)
	}
	d.Signature = sig
	return nil
}

// Bytes is the binary form of a signed item.
func (d *DataItem) Bytes() ([]byte, error) {
	if err := d.check(true); err != nil {
		return nil, err
	}
	tags := d.encodedTags()
	n := 2 + len(d.Signature) + len(d.Owner) + 1 + len(d.Target) + 1 + len(d.Anchor) + 16 + len(tags) + len(d.Data)
	b := make([]byte, 0, n)
	b = binary.LittleEndian.AppendUint16(b, uint16(d.SignatureType))
	b = append(b, d.Signature...)
	b = append(b, d.Owner...)
	for _, f := range [][]byte{d.Target, d.Anchor} {
		if len(f) == 0 {
			b = append(b, 0)
		} else {
			b = append(b, 1)
			b = append(b, f...)
		}
	}
	b = binary.LittleEndian.AppendUint64(b, uint64(len(d.Tags)))
	b = binary.LittleEndian.AppendUint64(b, uint64(len(tags)))
	b = append(b, tags...)
	b = append(b, d.Data...)
	return b, nil
}
