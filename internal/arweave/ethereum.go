package arweave

import (
	"encoding/hex"
	"fmt"
	"strconv"

	"github.com/decred/dcrd/dcrec/secp256k1/v4"
	"github.com/decred/dcrd/dcrec/secp256k1/v4/ecdsa"
	"golang.org/x/crypto/sha3"
)

// ethereumMessageHash is keccak256("\x19Ethereum Signed Message:\n" +
// len(message) in decimal + message), the hash ethers' signMessage signs and
// arbundles' EthereumSigner verifies.
func ethereumMessageHash(message []byte) []byte {
	h := sha3.NewLegacyKeccak256()
	h.Write([]byte("\x19Ethereum Signed Message:\n" + strconv.Itoa(len(message))))
	h.Write(message)
	return h.Sum(nil)
}

// VerifyEthereum checks a type-3 signature: owner is the 65-byte uncompressed
// secp256k1 public key, signature is r || s || v (65 bytes) over
// ethereumMessageHash(message).
//
// It accepts what both the MU and the SU accept: s must be in the lower half
// of the curve order (arbundles' secp256k1.ecdsaVerify rejects high s), and v
// must be 27 or 28 and recover the owner's key (the Rust SU recovers the key
// from v and compares addresses).
func VerifyEthereum(owner, message, signature []byte) error {
	if len(owner) != 65 || owner[0] != 4 {
		return errorf(ErrMalformed, "Ethereum owner must be a 65-byte uncompressed secp256k1 key (0x04 ...)")
	}
	pub, err := secp256k1.ParsePubKey(owner)
	if err != nil {
		return errorf(ErrMalformed, "Ethereum owner is not a secp256k1 public key: %v", err)
	}
	if len(signature) != 65 {
		return errorf(ErrMalformed, "Ethereum signature is %d bytes, want 65", len(signature))
	}
	var s secp256k1.ModNScalar
	if overflow := s.SetByteSlice(signature[32:64]); overflow || s.IsZero() {
		return errorf(ErrInvalidSignature, "Ethereum signature s is zero or not below the curve order")
	}
	if s.IsOverHalfOrder() {
		return errorf(ErrInvalidSignature, "Ethereum signature s is in the upper half of the curve order (not canonical)")
	}
	v := signature[64]
	if v != 27 && v != 28 {
		return errorf(ErrInvalidSignature, "Ethereum signature recovery byte v is %d, want 27 or 28", v)
	}
	// ecdsa.RecoverCompact takes v || r || s, v = 27 + recovery id.
	compact := make([]byte, 65)
	compact[0] = v
	copy(compact[1:], signature[:64])
	got, _, err := ecdsa.RecoverCompact(compact, ethereumMessageHash(message))
	if err != nil {
		return errorf(ErrInvalidSignature, "Ethereum signature does not verify: %v", err)
	}
	if !got.IsEqual(pub) {
		return errorf(ErrInvalidSignature, "Ethereum signature does not verify: it recovers another key (%s, owner is %s)",
			ethAddressOf(got.SerializeUncompressed()), ethAddressOf(owner))
	}
	return nil
}

// EthereumAddress is the EIP-55 checksummed address ("0x...") of a 65-byte
// uncompressed secp256k1 public key, as the ao CU shows the owner of a type-3
// item.
func EthereumAddress(owner []byte) (string, error) {
	if len(owner) != 65 || owner[0] != 4 {
		return "", fmt.Errorf("not a 65-byte uncompressed secp256k1 key")
	}
	return ethAddressOf(owner), nil
}

func ethAddressOf(uncompressed []byte) string {
	h := sha3.NewLegacyKeccak256()
	h.Write(uncompressed[1:])
	lower := hex.EncodeToString(h.Sum(nil)[12:])
	h = sha3.NewLegacyKeccak256()
	h.Write([]byte(lower))
	sum := h.Sum(nil)
	out := []byte("0x" + lower)
	for i := 0; i < 40; i++ {
		nibble := sum[i/2] >> 4
		if i%2 == 1 {
			nibble = sum[i/2] & 0x0f
		}
		if c := out[2+i]; c >= 'a' && c <= 'f' && nibble >= 8 {
			out[2+i] = c - 'a' + 'A'
		}
	}
	return string(out)
}

// EthereumSigner signs type-3 items with a secp256k1 key, as ethers'
// Wallet.signMessage does (deterministic, low s, v = 27 or 28).
type EthereumSigner struct {
	key *secp256k1.PrivateKey
	pub []byte
}

// NewEthereumSigner makes a signer from a 32-byte private key.
func NewEthereumSigner(privateKey []byte) (*EthereumSigner, error) {
	if len(privateKey) != 32 {
		return nil, fmt.Errorf("ethereum signer: private key is %d bytes, want 32", len(privateKey))
	}
	var k secp256k1.ModNScalar
	if overflow := k.SetByteSlice(privateKey); overflow || k.IsZero() {
		return nil, fmt.Errorf("ethereum signer: private key is zero or not below the curve order")
	}
	key := secp256k1.NewPrivateKey(&k)
	return &EthereumSigner{key: key, pub: key.PubKey().SerializeUncompressed()}, nil
}

// SignatureType implements Signer: 3.
func (e *EthereumSigner) SignatureType() int { return SigTypeEthereum }

// PublicKey implements Signer: the 65-byte uncompressed key.
func (e *EthereumSigner) PublicKey() []byte { return e.pub }

// Address is the signer's EIP-55 Ethereum address.
func (e *EthereumSigner) Address() string { return ethAddressOf(e.pub) }

// Sign implements Signer, returning r || s || v.
func (e *EthereumSigner) Sign(message []byte) ([]byte, error) {
	c := ecdsa.SignCompact(e.key, ethereumMessageHash(message), false) // v || r || s
	sig := make([]byte, 65)
	copy(sig, c[1:])
	sig[64] = c[0]
	return sig, nil
}
